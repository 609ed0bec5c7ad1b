// Bundles the CLI into one ESM file (dist/hyperbuild.js) for bin/hyperbuild.
import { build } from 'esbuild';

await build({
  entryPoints: ['toolchain/cli/main.ts'],
  outfile: 'dist/hyperbuild.js',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: 'linked',
  legalComments: 'none',
  // Some dependencies are CommonJS and call require(); give the ESM bundle one.
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  // oclif loads TypeScript only to run uncompiled plugins, which a bundled CLI never has;
  // bundling it would add 9.7 MB to parse on every start.
  external: ['typescript', 'ts-node'],
  logLevel: 'warning',
});
