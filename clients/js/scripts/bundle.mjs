// Builds the single-file ES module that examples/server serves as
// /embedchat.js, so that `go run ./examples/server` needs no Node. CI
// rebuilds it and fails if the committed file differs from the source.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));

await build({
  entryPoints: [here('../src/index.ts')],
  outfile: here('../../../examples/server/static/embedchat.js'),
  bundle: true,
  format: 'esm',
  target: 'es2022',
  platform: 'neutral',
  charset: 'utf8',
  legalComments: 'none',
  banner: { js: '// @embedchat/client, built from clients/js by `npm run build`. Do not edit: edit clients/js/src.' },
  logLevel: 'warning',
});
