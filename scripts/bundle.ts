// `npm run build` (after tsc): bundles the compiled CLI into dist/src/cli/main.bundle.mjs, one
// file, which bin/bucketfs runs. Starting from ~110 ES modules and the SDK's CommonJS packages
// costs Node about 0.2 s of resolving, reading and parsing at every start; the bundle cuts a
// `bucketfs --version` from 0.19 to 0.14 s and a mount's start by as much, on this machine.
//
// The bundle sits next to main.js so that paths relative to import.meta.url stay the same.
// fuse-native stays outside: it loads its native binding from its own folder.
import { build } from 'esbuild';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const cliDir = path.resolve(here, '../src/cli');

await build({
  entryPoints: [path.join(cliDir, 'main.js')],
  outfile: path.join(cliDir, 'main.bundle.mjs'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['fuse-native'],
  // CommonJS packages in an ES module bundle call require(): give them one
  banner: { js: "import { createRequire as __bucketfsRequire } from 'node:module'; const require = __bucketfsRequire(import.meta.url);" },
  logLevel: 'warning',
});
