// The version reported in `hello`, the User-Agent and `access-connector version`.
// Read from package.json next to the build output so there is one place to bump it.
import { readFileSync } from 'node:fs';

function readVersion(): string {
  for (const rel of ['../../package.json', '../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'access-connector' && pkg.version) return pkg.version;
    } catch {
      // try the next layout
    }
  }
  return '0.0.0-unknown';
}

export const VERSION = readVersion();
