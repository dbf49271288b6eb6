// bucketfs program entry (bin/bucketfs imports this module and nothing else).
import './warnings.js';
import { hideBin } from 'yargs/helpers';
import { flushStdout, main } from './program.js';
import { flushLog } from '../util/log.js';
import { rawArguments } from './raw-names.js';

// (no top-level await: the bundle bin/bucketfs runs is a CommonJS script, see scripts/bundle.ts)
void (async () => {
  const code = await main(rawArguments(hideBin(process.argv)));
  await flushStdout();
  await flushLog();
  // Exit explicitly: idle keep-alive sockets or backend timers must not keep a finished command alive.
  process.exit(code);
})();
