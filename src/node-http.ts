// Node's `http` module, loaded with require() instead of `import`. Importing a built-in
// from an ES module builds its namespace from every export, and node:http's lazy
// WebSocket, MessageEvent and CloseEvent getters then load Node's bundled undici: about
// 12 MB of resident memory for a daemon that never uses them (measured on Node 24, and
// checked by test/integration/lazy-loading.test.ts). require() leaves the getters alone.
// Type-only imports of 'node:http' elsewhere are erased at compile time and cost nothing.
import { createRequire } from 'node:module';

export const http = createRequire(import.meta.url)('node:http') as typeof import('node:http');
