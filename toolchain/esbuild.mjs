// Bundles the CLI for bin/hyperbuild: the full oclif CLI (dist/hyperbuild.js) and the lean CLI
// (dist/lean/, see toolchain/cli/lean/main.ts) that runs `build` without oclif.
import { build } from 'esbuild';
import { rename, rm } from 'node:fs/promises';

const common = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: 'linked',
  legalComments: 'none',
  // Some dependencies are CommonJS and call require(); give the ESM bundle one.
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  logLevel: 'warning',
};

await build({
  ...common,
  entryPoints: ['toolchain/cli/main.ts'],
  outfile: 'dist/hyperbuild.js',
  // oclif loads TypeScript only to run uncompiled plugins, which a bundled CLI never has;
  // bundling it would add 9.7 MB to parse on every start.
  external: ['typescript', 'ts-node'],
});

// The lean CLI: the same command classes with @oclif/core replaced by the few pieces they use,
// split into chunks so that a no-op build parses only what it runs (the registry client,
// listr2 and the layer/initramfs writers load when a build needs them).
// Built beside dist/lean and swapped in by rename, so a CLI started during a rebuild never finds
// dist/lean half-written or missing (this script runs under plain node, before toolchain/fs/atomic.ts exists as JS).
const fresh = `dist/.lean-${process.pid}`;
const old = `dist/.lean-old-${process.pid}`;
await build({
  ...common,
  entryPoints: ['toolchain/cli/lean/main.ts'],
  outdir: fresh,
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  alias: { '@oclif/core': './toolchain/cli/lean/oclif-subset.ts' },
});
await rename('dist/lean', old).catch((err) => {
  if (err.code !== 'ENOENT') throw err;
});
await rename(fresh, 'dist/lean');
await rm(old, { recursive: true, force: true });
