// `npm run build` (after tsc): bundles the compiled CLI into dist/src/cli/main.bundle.cjs, one
// CommonJS script, which bin/bucketfs runs. Starting from ~110 ES modules and the SDK's CommonJS
// packages costs Node about 0.2 s of resolving, reading and parsing at every start; one script
// costs less, and V8 can keep its compiled code for the next start (bin/bucketfs keeps it in a
// code cache file beside the bundle), which no ES module can on Node 20.
//
// The bundle sits next to main.js so that paths relative to its own location stay the same
// (import.meta.url becomes the bundle's file URL). fuse-native stays outside: it loads its
// native binding from its own folder.
import { build, type Plugin } from 'esbuild';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const cliDir = path.resolve(here, '../src/cli');

// program.ts loads yargs' CommonJS build through createRequire (its help layout is the one we
// want), which esbuild cannot follow: left alone, every start would read and compile yargs and
// its eight packages from node_modules (60 ms here). Here that one call becomes a plain require,
// which esbuild bundles; yargs' locale files are then not found and its English texts are used.
const YARGS_CJS = "createRequire(import.meta.url)('yargs')";
const bundleYargsCjs: Plugin = {
  name: 'bundle-yargs-cjs',
  setup(b) {
    b.onLoad({ filter: /[\\/]cli[\\/]program\.js$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      if (!text.includes(YARGS_CJS)) throw new Error(`${args.path} no longer loads yargs with ${YARGS_CJS}: update scripts/bundle.ts`);
      return { contents: text.replace(YARGS_CJS, "require('yargs')"), loader: 'js' };
    });
  },
};

await build({
  entryPoints: [path.join(cliDir, 'main.js')],
  outfile: path.join(cliDir, 'main.bundle.cjs'),
  bundle: true,
  platform: 'node',
  format: 'cjs',
  // the ES builds of the SDK's packages: esbuild then leaves out the ~100 S3 commands we never
  // send (1.9 → 1.5 MB, and a quarter less top-level code to run at every start)
  mainFields: ['module', 'main'],
  plugins: [bundleYargsCjs],
  // the SDK's ES builds load some Node modules late with import(), which a script run by
  // vm.Script (bin/bucketfs) cannot do: esbuild turns each into a require
  supported: { 'dynamic-import': false },
  minifyWhitespace: true,
  minifySyntax: true,
  target: 'node20',
  external: ['fuse-native'],
  define: { 'import.meta.url': '__bucketfsUrl' },
  banner: { js: "const __bucketfsUrl = require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
});
// code caches of earlier bundles (bin/bucketfs names them after the bundle's size and time)
for (const f of readdirSync(cliDir)) if (/^main\.bundle\..*\.v8cache$/.test(f) || f === 'main.bundle.mjs') rmSync(path.join(cliDir, f), { force: true });
