// Jest's global setup: tests that start a connector process run dist/bundle, which only
// `npm run build` (or `npm test`) makes. After a bare `tsc`, `npm run jest` would run the
// fresh tests against a stale connector; the bundle is made again first instead. (It
// replaces dist/bundle in place: not while a bench or a connector runs from it.)
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BUNDLE_META, REPO_ROOT } from './paths.js';

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : e.name.endsWith('.js') ? statSync(p).mtimeMs : 0);
  }
  return newest;
}

/**
 * True when there is no bundle (no metafile: the bundler writes it last), or when a compiled
 * source in `compiled` (dist/src) or one of `inputs` (the bundler, the lockfile) is newer.
 */
export function bundleIsStale(compiled: string, meta: string, inputs: readonly string[] = []): boolean {
  if (!existsSync(meta)) return true;
  const newest = Math.max(newestMtime(compiled), ...inputs.filter((f) => existsSync(f)).map((f) => statSync(f).mtimeMs));
  return newest > statSync(meta).mtimeMs;
}

export default function freshBundle(): void {
  const bundler = resolve(REPO_ROOT, 'dist/scripts/bundle.js');
  if (!bundleIsStale(resolve(REPO_ROOT, 'dist/src'), BUNDLE_META, [bundler, resolve(REPO_ROOT, 'package-lock.json')])) return;
  process.stderr.write('\ndist/bundle is older than dist/src: bundling it again (node dist/scripts/bundle.js)\n');
  execFileSync(process.execPath, [bundler], { stdio: 'inherit' });
}
