// Builds the console into crates/server/console-dist, which is committed and embedded in
// the server binary. Asset names carry content hashes (served as immutable).
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/',
  build: {
    outDir: '../crates/server/console-dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    sourcemap: false,
    // The basemap is fetched as a file rather than inlined.
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 2000,
  },
  server: {
    proxy: {
      '/v1': 'http://127.0.0.1:8080',
    },
  },
});
