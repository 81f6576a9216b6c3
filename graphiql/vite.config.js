// Builds src/main.jsx into ../app/static/graphiql/assets/, which the service serves at /graphiql-assets/
// (app/graphql/ide.py). File names carry content hashes, so they are served with long cache lifetimes;
// scripts/build_graphiql.sh moves the manifest (which entry script and stylesheets the page loads) and
// the bundled packages' licenses next to that folder, out of the served one.
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/graphiql-assets/',
  publicDir: false,
  oxc: { jsx: { runtime: 'automatic' } },
  build: {
    outDir: '../app/static/graphiql/assets',
    emptyOutDir: true,
    assetsDir: '.',
    // Fonts and images are files of this origin rather than data: URLs where the bundler chooses.
    assetsInlineLimit: 0,
    sourcemap: false,
    minify: true,
    manifest: 'manifest.json',
    license: { fileName: 'licenses.md' },
    // Monaco is big; it is loaded once and then cached for good.
    chunkSizeWarningLimit: 4000,
    rollupOptions: {
      input: 'src/main.jsx',
      onwarn(warning, warn) {
        // React libraries' "use client" / "use no memo" directives mean nothing in a bundle.
        if (warning.code === 'MODULE_LEVEL_DIRECTIVE') return;
        warn(warning);
      },
    },
  },
  // Monaco's editor, JSON and GraphQL workers (graphiql/setup-workers/vite) become module workers
  // loaded from /graphiql-assets/ like the rest.
  worker: { format: 'es' },
});
