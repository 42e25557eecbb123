// Paths of the repository, for tests running from dist/test/...
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(resolve(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('repository root not found');
    dir = up;
  }
  return dir;
}

export const REPO_ROOT = findRoot();
/**
 * The connector as it ships: the bundle of dist/src that `npm run build` makes
 * (scripts/bundle.ts) and the image runs. Tests that start a connector process run this.
 */
export const MAIN_JS = resolve(REPO_ROOT, 'dist/bundle/main.js');
/** esbuild's metafile for MAIN_JS: which source files each chunk holds. */
export const BUNDLE_META = resolve(REPO_ROOT, 'dist/bundle/meta.json');
