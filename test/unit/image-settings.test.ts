// The benches run the connector with the image's settings (bench/image-settings.ts) so that
// their figures are what a deployment gets: this keeps the two from drifting apart, and
// checks that neither the chart nor the ECS template replaces the image's entrypoint (which
// would drop its node flags).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/paths.js';
import { IMAGE_MALLOC_ARENA_MAX, IMAGE_NODE_ARGS } from '../../bench/image-settings.js';

const read = (p: string) => readFileSync(join(REPO_ROOT, p), 'utf8');

test('the Dockerfile runs node with the flags and malloc arenas the benches use', () => {
  const dockerfile = read('Dockerfile');
  const entrypoints = [...dockerfile.matchAll(/^ENTRYPOINT\s+(\[.*\])\s*$/gm)].map((m) => JSON.parse(m[1]!) as string[]);
  expect(entrypoints).toEqual([['node', ...IMAGE_NODE_ARGS, '/app/dist/src/main.js']]);
  expect(IMAGE_NODE_ARGS.length).toBeGreaterThan(0);
  expect(dockerfile).toMatch(new RegExp(`^\\s+MALLOC_ARENA_MAX=${IMAGE_MALLOC_ARENA_MAX}\\b`, 'm'));
  // `npm start` runs the bundle as the image does.
  const start = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts['start'];
  expect(start).toBe(['node', ...IMAGE_NODE_ARGS, 'dist/bundle/main.js', 'run'].join(' '));
});

test('the chart and the ECS template keep the image\'s entrypoint', () => {
  const deployment = read('helm/access-connector/templates/deployment.yaml');
  expect(deployment).not.toMatch(/^\s*command:/m);
  expect(deployment).toMatch(/^\s*args: \["run"\]/m);
  const ecs = read('cloudformation/connector-ecs.yaml');
  expect(ecs).not.toMatch(/^\s*EntryPoint:/m);
  // The task's only command is the health check, which is its own short-lived process.
  expect([...ecs.matchAll(/^\s*Command:.*$/gm)].map((m) => m[0].trim())).toEqual(['Command: [CMD, node, /app/dist/src/main.js, healthcheck]']);
});
