// `npm run build` (after tsc): bundles the compiled CLI into dist/src/cli/main.bundle.cjs, one
// CommonJS script, which bin/bucketfs runs. Starting from ~110 ES modules and the SDK's CommonJS
// packages costs Node about 0.2 s of resolving, reading and parsing at every start; one script
// costs less, and V8 can keep its compiled code for the next start (bin/bucketfs keeps it in a
// code cache file beside the bundle), which no ES module can on Node 20.
//
// The bundle sits next to main.js so that paths relative to its own location stay the same
// (import.meta.url becomes the bundle's file URL). fuse-native stays outside: it loads its
// native binding from its own folder.
import { build } from 'esbuild';
import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const cliDir = path.resolve(here, '../src/cli');

await build({
  entryPoints: [path.join(cliDir, 'main.js')],
  outfile: path.join(cliDir, 'main.bundle.cjs'),
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: ['fuse-native'],
  define: { 'import.meta.url': '__bucketfsUrl' },
  banner: { js: "const __bucketfsUrl = require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
});
// code caches of earlier bundles (bin/bucketfs names them after the bundle's size and time)
for (const f of readdirSync(cliDir)) if (/^main\.bundle\..*\.v8cache$/.test(f) || f === 'main.bundle.mjs') rmSync(path.join(cliDir, f), { force: true });
