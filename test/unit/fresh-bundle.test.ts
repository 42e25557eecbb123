// `npm run jest` after a bare `tsc` bundles again before any test starts a connector
// (test/helpers/fresh-bundle.ts): the staleness it decides on, with real files and times.
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleIsStale } from '../helpers/fresh-bundle.js';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'fresh-bundle-'));
  mkdirSync(join(root, 'src/aws'), { recursive: true });
  mkdirSync(join(root, 'bundle'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const at = (path: string, seconds: number, text = '') => {
  writeFileSync(path, text);
  utimesSync(path, seconds, seconds);
};

test('a bundle older than any compiled source, or none, is stale; a newer one is not', () => {
  const meta = join(root, 'bundle/meta.json');
  at(join(root, 'src/main.js'), 1_000);
  at(join(root, 'src/aws/clients.js'), 2_000);
  expect(bundleIsStale(join(root, 'src'), meta)).toBe(true);
  at(meta, 3_000, '{}');
  expect(bundleIsStale(join(root, 'src'), meta)).toBe(false);
  // A source compiled after the bundle, however deep.
  at(join(root, 'src/aws/clients.js'), 4_000);
  expect(bundleIsStale(join(root, 'src'), meta)).toBe(true);
  // Source maps and other files beside the compiled code do not count.
  at(join(root, 'src/aws/clients.js'), 2_000);
  at(join(root, 'src/aws/clients.js.map'), 5_000);
  expect(bundleIsStale(join(root, 'src'), meta)).toBe(false);
  // The bundler or the lockfile changed since (an SDK upgrade without a tsc).
  const lock = join(root, 'package-lock.json');
  at(lock, 2_500);
  expect(bundleIsStale(join(root, 'src'), meta, [lock, join(root, 'absent.js')])).toBe(false);
  at(lock, 6_000);
  expect(bundleIsStale(join(root, 'src'), meta, [lock])).toBe(true);
});
