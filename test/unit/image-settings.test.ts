// The benches run the connector with the image's settings (bench/image-settings.ts) so that
// their figures are what a deployment gets: this keeps the two from drifting apart, and
// checks that neither the chart nor the ECS template replaces the image's entrypoint (which
// would drop its node flags).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/paths.js';
import { IMAGE_MALLOC_ARENA_MAX, IMAGE_NODE_ARGS, benchNodeArgs } from '../../bench/image-settings.js';

const read = (p: string) => readFileSync(join(REPO_ROOT, p), 'utf8');

test('the Dockerfile runs node with the flags and malloc arenas the benches use', () => {
  const dockerfile = read('Dockerfile');
  const entrypoints = [...dockerfile.matchAll(/^ENTRYPOINT\s+(\[.*\])\s*$/gm)].map((m) => JSON.parse(m[1]!) as string[]);
  expect(entrypoints).toEqual([['node', ...IMAGE_NODE_ARGS, '/app/dist/src/main.js']]);
  expect(IMAGE_NODE_ARGS.length).toBeGreaterThan(0);
  // In the runtime stage (after the last FROM), as ENV's NAME=VALUE.
  const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
  expect(runtime).toMatch(new RegExp(`\\bMALLOC_ARENA_MAX=${IMAGE_MALLOC_ARENA_MAX}(\\s|$)`, 'm'));
  // The image check and docs/image.md name the same entrypoint.
  const entry = ['node', ...IMAGE_NODE_ARGS, '/app/dist/src/main.js'];
  expect(read('scripts/image/build-and-test.sh')).toContain(`['Entrypoint', c.Entrypoint, [${entry.map((a) => `'${a}'`).join(', ')}]]`);
  expect(read('docs/image.md')).toContain(`\`ENTRYPOINT [${entry.map((a) => JSON.stringify(a)).join(', ')}]\``);
  // `npm start` and scripts/bin/access-connector run the bundle as the image does.
  expect(read('scripts/bin/access-connector')).toContain(`exec ${['node', ...IMAGE_NODE_ARGS].join(' ')} "$main" "$@"`);
  const start = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts['start'];
  expect(start).toBe(['node', ...IMAGE_NODE_ARGS, 'dist/bundle/main.js', 'run'].join(' '));
});

test('the chart and the ECS template keep the image\'s entrypoint', () => {
  const deployment = read('helm/access-connector/templates/deployment.yaml');
  // A `command:` replaces the entrypoint, unless it is an exec probe's.
  const lines = deployment.split('\n');
  const commands = lines.filter((l, i) => /^\s*command:/.test(l) && !/^\s*exec:\s*$/.test(lines[i - 1] ?? ''));
  expect(commands).toEqual([]);
  expect(deployment).toMatch(/^\s*args: \["run"\]/m);
  const ecs = read('cloudformation/connector-ecs.yaml');
  expect(ecs).not.toMatch(/^\s*EntryPoint:/m);
  // The task's only command is the health check, which is its own short-lived process.
  expect([...ecs.matchAll(/^\s*Command:.*$/gm)].map((m) => m[0].trim())).toEqual(['Command: [CMD, node, /app/dist/src/main.js, healthcheck]']);
});

test('the benches run the connector with the image\'s flags, then --node-args', () => {
  expect(benchNodeArgs(['node', 'bench.js'])).toEqual([...IMAGE_NODE_ARGS]);
  expect(benchNodeArgs(['node', 'bench.js', '--node-args', ' --max-lazy  --no-turbofan '])).toEqual([...IMAGE_NODE_ARGS, '--max-lazy', '--no-turbofan']);
  expect(benchNodeArgs(['node', 'bench.js', '--no-image-node-args'])).toEqual([]);
  expect(benchNodeArgs(['node', 'bench.js', '--no-image-node-args', '--node-args', '--max-lazy'])).toEqual(['--max-lazy']);
  // bench:sync and bench:memory spawn the connector with them; bench:access, whose runner
  // runs in its own process, runs itself again under them.
  for (const bench of ['bench/sync.ts', 'bench/memory.ts', 'bench/access.ts']) expect(read(bench)).toContain('const nodeArgs = benchNodeArgs();');
});
