// Node's `http` module, loaded with require() instead of `import`. Importing a built-in
// from an ES module builds its namespace from every export, and node:http's lazy
// WebSocket, MessageEvent and CloseEvent getters then load Node's bundled undici, which the
// daemon never uses: 12 MB of resident memory in an empty Node 24 process, about 4 MB in the
// daemon (checked by test/integration/lazy-loading.test.ts). require() leaves the getters alone.
// Type-only imports of 'node:http' elsewhere are erased at compile time and cost nothing.
import { createRequire } from 'node:module';

export const http = createRequire(import.meta.url)('node:http') as typeof import('node:http');
