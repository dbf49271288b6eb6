// Library chatter off stderr. A command's stderr is its one error line and its log; but Node
// process warnings (the AWS SDK's notice about future Node versions) print several lines, and
// the AWS SDK writes to console.warn when no logger is configured ("An error was encountered in
// a non-retryable streaming request."). bucketfs's own code never uses console.*, so whatever
// arrives there comes from a library: it goes to the log at DEBUG (-vv shows it), redacted
// like every log line. Imported first by main.ts, before any module can emit one.
import { format } from 'node:util';
import { log } from '../util/log.js';

process.removeAllListeners('warning');
process.on('warning', (w: Error) => {
  log.debug(`node warning: ${w.name}: ${w.message.split('\n')[0]}`);
});

const toDebug =
  (name: string) =>
  (...args: unknown[]): void => {
    log.debug(`console.${name}: ${format(...args).split('\n')[0]}`);
  };
console.warn = toDebug('warn');
console.error = toDebug('error');
console.info = toDebug('info');
console.debug = toDebug('debug');
console.trace = toDebug('trace');
