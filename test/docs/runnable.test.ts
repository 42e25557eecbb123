// Every fenced block marked `sh runnable` in README.md, CONTRIBUTING.md and docs/ runs
// here, as written, so a documented command cannot drift from the CLI (CONTRIBUTING.md,
// "Runnable commands in the docs"). Each file gets a fresh AWS simulator (demo world) and
// reference control plane; its blocks run in order in one working directory, under
// `bash -euo pipefail`, with `access-connector` on PATH and the connector's environment.
// A block passes when it exits 0.
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import { ReferenceControlPlane } from '../sim/control-plane/server.js';
import { MAIN_JS, REPO_ROOT } from '../helpers/paths.js';
import { fencedBlocks, type FencedBlock } from '../helpers/markdown.js';

const TOKEN = 'runnable-docs-token';

function markdownFiles(): string[] {
  const out = ['README.md', 'CONTRIBUTING.md'];
  const walk = (dir: string) => {
    for (const e of readdirSync(resolve(REPO_ROOT, dir), { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (p.endsWith('.md')) out.push(p);
    }
  };
  walk('docs');
  return out.sort();
}

const isRunnable = (b: FencedBlock) => b.lang === 'sh' && b.info.split(/\s+/).includes('runnable');
const runnable = markdownFiles()
  .map((file) => ({ file, blocks: fencedBlocks(readFileSync(resolve(REPO_ROOT, file), 'utf8')).filter(isRunnable) }))
  .filter((f) => f.blocks.length > 0);

test('the realistic commands of the docs are marked runnable', () => {
  const all = runnable.flatMap((f) => f.blocks.map((b) => b.body)).join('\n');
  for (const command of ['doctor', 'sync', 'grant', 'revoke', 'ledger list', 'ledger show']) expect(all).toMatch(new RegExp(`access-connector ${command}\\b`));
  // Every example integration and params file is used by a command that runs. (Policy
  // files are only loaded, by test/docs/examples.test.ts: several serve installs, not the CLI.)
  const examples = readdirSync(resolve(REPO_ROOT, 'docs/examples'), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.json'))
    .map((e) => relative(REPO_ROOT, join(e.parentPath, e.name)));
  // A params file is used by name, or by a loop over kinds (`$kind.grant.json`) that lists its kind.
  const used = (p: string) => {
    const m = /^docs\/examples\/params\/(.+)\.(grant|revoke)\.json$/.exec(p);
    return all.includes(p) || (m !== null && all.includes(`$kind.${m[2]}.json`) && new RegExp(`\\b${m[1]!.replace('.', '\\.')}\\b`).test(all));
  };
  expect(examples.filter((p) => !used(p))).toEqual([]);
  expect(runnable.map((f) => f.file)).toEqual(expect.arrayContaining(['README.md', 'docs/examples/README.md']));
});

function run(script: string, cwd: string, env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((res) => {
    const child = spawn('bash', ['-euo', 'pipefail', '-c', script], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => res({ code, out }));
  });
}

describe.each(runnable)('$file', ({ blocks }) => {
  let sim: AwsSimulator;
  let cp: ReferenceControlPlane;
  let cwd: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    sim = await startAwsSimulator({ world: 'demo', quotas: false, sso: { assignmentDelayMs: 50 } });
    cp = await ReferenceControlPlane.start({ tokens: [TOKEN] });
    cwd = mkdtempSync(join(tmpdir(), 'ac-runnable-'));
    // Commands name repository paths (docs/examples/…) and write their outputs next to them.
    symlinkSync(resolve(REPO_ROOT, 'docs'), join(cwd, 'docs'));
    const bin = join(cwd, '.bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'access-connector'), `#!/bin/sh\nexec '${process.execPath}' '${MAIN_JS}' "$@"\n`);
    chmodSync(join(bin, 'access-connector'), 0o755);
    env = {
      PATH: `${bin}:${process.env['PATH'] ?? '/usr/bin:/bin'}`,
      HOME: cwd,
      ...sim.env,
      LEDGER_TABLE: 'access-connector-ledger',
      CONNECTOR_ID: 'docs-connector',
      CONTROL_PLANE_URL: cp.url,
      ALLOW_INSECURE_CONTROL_PLANE: 'true',
      CONNECTOR_TOKEN: TOKEN,
    };
  });
  afterAll(async () => {
    await cp?.close();
    await sim?.close();
    // Removes the `docs` link, never what it points to.
    if (cwd) rmSync(cwd, { recursive: true, force: true });
  });

  test.each(blocks.map((b) => [b.line, b] as const))('the block at line %i runs and exits 0', async (_line, block) => {
    const r = await run(block.body, cwd, env);
    expect({ code: r.code, out: r.code === 0 ? '' : r.out.slice(-4000) }).toEqual({ code: 0, out: '' });
    expect(r.out).not.toContain(TOKEN);
  }, 180_000);
});
