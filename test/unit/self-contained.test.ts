// Nothing in the project may read outside its own tree at build, test or run time: a fresh
// clone has nothing beside it. .ci/run proves it end to end by running the suite in such a
// clone; this test names the offending line at once.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { REPO_ROOT } from '../helpers/paths.js';

const ROOTS = ['src', 'test', 'scripts', 'bench', '.ci', 'jest.config.js', 'tsconfig.json', 'package.json', 'Dockerfile'];
// A path built from the repository root or the working directory that climbs out of it,
// or the name of a design folder that sits beside the repository on some machines.
const OUT_OF_TREE = [
  /(?:REPO_ROOT|process\.cwd\(\)|__dirname|root)\s*,\s*['"`]\.\.(?:\/|['"`])/,
  /['"`]\.\.\/shared\b/,
  /shared\/design\//,
];

function files(p: string): string[] {
  const abs = join(REPO_ROOT, p);
  try {
    return readdirSync(abs, { withFileTypes: true }).flatMap((e) => (e.name === 'node_modules' ? [] : files(join(p, e.name))));
  } catch {
    return [abs];
  }
}

test('no source, test, script or build file reads outside the repository', () => {
  const offending: string[] = [];
  for (const f of ROOTS.flatMap(files)) {
    if (f.endsWith('self-contained.test.ts') || !/\.(ts|js|mjs|json|sh|yaml)$|\/run$|Dockerfile$/.test(f)) continue;
    readFileSync(f, 'utf8').split('\n').forEach((line, i) => {
      if (OUT_OF_TREE.some((re) => re.test(line))) offending.push(`${relative(REPO_ROOT, f)}:${i + 1}: ${line.trim()}`);
    });
  }
  expect(offending).toEqual([]);
});
