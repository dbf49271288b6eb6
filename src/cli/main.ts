// bucketfs program entry (bin/bucketfs imports this module and nothing else).
import './warnings.js';
import { flushStdout, main } from './program.js';
import { flushLog } from '../util/log.js';
import { commandArguments, hideSecretArguments } from './hidden-args.js';

// (no top-level await: the bundle bin/bucketfs runs is a CommonJS script, see scripts/bundle.ts)
void (async () => {
  const args = commandArguments();
  hideSecretArguments(args);
  const code = await main(args);
  await flushStdout();
  await flushLog();
  // Exit explicitly: idle keep-alive sockets or backend timers must not keep a finished command alive.
  process.exit(code);
})();
