// Bundles the CLI for bin/hyperbuild: the full oclif CLI (dist/hyperbuild.js, ESM), and the lean CLI
// (dist/lean/, see toolchain/cli/lean/main.ts) that runs `build` and `boot` without oclif: its launcher
// (dist/lean/launch.js) and the CLI itself as one CommonJS file (dist/lean/main.js).
import { build } from 'esbuild';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  sourcemap: 'linked',
  legalComments: 'none',
  logLevel: 'warning',
};

await build({
  ...common,
  format: 'esm',
  entryPoints: ['toolchain/cli/main.ts'],
  outfile: 'dist/hyperbuild.js',
  // Some dependencies are CommonJS and call require(); give the ESM bundle one.
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  // oclif loads TypeScript only to run uncompiled plugins, which a bundled CLI never has;
  // bundling it would add 9.7 MB to parse on every start.
  external: ['typescript', 'ts-node'],
});

// The lean CLI: the same command classes with @oclif/core replaced by the few pieces they use,
// bundled into one CommonJS file: in Node 20, resolving and linking a graph of ES module chunks
// cost more than a start spends running the command, and one script can be compiled through a
// V8 code cache (toolchain/cli/lean/code-cache.ts), which takes the parse of the parts a start does
// not run (the registry client, listr2, the layer and initramfs writers) off the start as well.
// Built beside dist/lean and swapped in by rename, so a CLI started during a rebuild never finds
// dist/lean half-written or missing (this script runs under plain node, before toolchain/fs/atomic.ts exists as JS).
const fresh = `dist/.lean-${process.pid}`;
const old = `dist/.lean-old-${process.pid}`;
const cjs = {
  ...common,
  format: 'cjs',
  // The modules find the package root and key memos by their own file.
  define: { 'import.meta.url': '__hyperbuild_module_url' },
  banner: { js: "const __hyperbuild_module_url = require('node:url').pathToFileURL(__filename).href;" },
};
await build({
  ...cjs,
  entryPoints: ['toolchain/cli/lean/main.ts'],
  outfile: `${fresh}/main.js`,
  // import() of node: modules becomes require(): code-cache.ts runs the bundle as a vm.Script, which has no module loader.
  supported: { 'dynamic-import': false },
  alias: { '@oclif/core': './toolchain/cli/lean/oclif-subset.ts' },
});
// esbuild escapes non-ASCII in code but keeps it in the comments it preserves (JSDoc of class members); one
// such character makes the whole 1 MB source a two-byte string, ~3 ms more to read and to hash at each start.
const main = await readFile(`${fresh}/main.js`, 'utf8');
await writeFile(`${fresh}/main.js`, main.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
// The launcher keeps its import() of the full CLI (an ES module).
await build({ ...cjs, entryPoints: ['toolchain/cli/lean/launch.ts'], outfile: `${fresh}/launch.js` });
// The package is "type": "module"; these two are CommonJS.
await mkdir(fresh, { recursive: true });
await writeFile(`${fresh}/package.json`, '{ "type": "commonjs" }\n');
await rename('dist/lean', old).catch((err) => {
  if (err.code !== 'ENOENT') throw err;
});
await rename(fresh, 'dist/lean');
await rm(old, { recursive: true, force: true });
