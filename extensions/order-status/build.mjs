// Builds both targets with esbuild (what Shopify CLI bundles extensions with): one ES module
// per target in dist/, Preact's automatic JSX. `shopify app deploy` builds from the same
// sources itself; this build is what the tests load.
import {build} from 'esbuild';

await build({
  entryPoints: {
    'order-status-block': 'src/OrderStatusBlock.jsx',
    'fulfillment-details': 'src/FulfillmentDetails.jsx',
  },
  outdir: 'dist',
  bundle: true,
  format: 'esm',
  target: 'es2020',
  jsx: 'automatic',
  jsxImportSource: 'preact',
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
});
