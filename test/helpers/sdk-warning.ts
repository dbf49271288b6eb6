// The AWS SDK warns once per process that its releases after early 2027 will need Node 22
// (NodeVersionSupportWarning, nine lines on stderr). The CLI routes library warnings to its
// debug log (src/cli/warnings.ts); test processes drop just this one, so that a real warning
// still shows in the test output.
const SDK_NODE_NOTICE = /^NodeVersionSupportWarning:/;

process.removeAllListeners('warning');
process.on('warning', (w: Error) => {
  if (SDK_NODE_NOTICE.test(w.message)) return;
  process.stderr.write(`(node:${process.pid}) ${w.name}: ${w.message}\n`);
});
