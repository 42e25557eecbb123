// The idle daemon loads neither the AWS SDK clients nor what stands behind a job type (sync
// sources, access kinds): they are imported on first use. Real connector process (the
// bundle, as shipped), reference control plane, AWS simulator; the process records every
// file it loads, and the bundle's metafile says which source files each chunk holds.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ReferenceControlPlane } from '../sim/control-plane/server.js';
import { startAwsSimulator } from '../sim/aws/index.js';
import { demoIntegration } from '../sim/aws/worlds/demo.js';
import { ConnectorProcess, connectorEnv } from '../helpers/process.js';
import { BUNDLE_META, MAIN_JS, REPO_ROOT } from '../helpers/paths.js';
import { capabilitiesOf, defaultHandlers } from '../../src/jobs/registry.js';
import { KINDS } from '../../src/access/registry.js';
import { SOURCES } from '../../src/sync/registry.js';
import { DECLARED_ACTIONS } from '../../src/declared-actions.js';
import { declaredActions } from '../../src/permissions.js';

const RECORDER = pathToFileURL(resolve(REPO_ROOT, 'dist/test/helpers/module-recorder.js')).href;
const cleanup: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function start(extra: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'lazy-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const record = join(dir, 'modules.txt');
  const sim = await startAwsSimulator();
  cleanup.push(() => sim.close());
  const cp = await ReferenceControlPlane.start();
  cleanup.push(() => cp.close());
  const c = new ConnectorProcess({ ...connectorEnv(cp.url, extra), ...sim.env, NODE_OPTIONS: `--import ${RECORDER}`, MODULE_RECORD_FILE: record }, { entry: MAIN_JS });
  cleanup.push(() => c.stop());
  await cp.waitForSession(15_000);
  const loaded = () => sourcesOf(readFileSync(record, 'utf8').split('\n').filter(Boolean));
  // Node's internal modules as listed after now: waits for the recorder's next write, so a
  // slow machine cannot hand the test a list older than what it checks.
  const internal = async (): Promise<string[]> => {
    const since = Date.now();
    for (let i = 0; i < 600; i++) {
      const [stamp, ...mods] = readFileSync(`${record}.internal`, 'utf8').split('\n');
      if (Number(stamp) >= since) return mods;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('the module recorder wrote no list for 30 s');
  };
  return { sim, cp, c, loaded, internal };
}

/**
 * The source files behind the loaded files, as paths from the repository's root: a chunk
 * of the bundle stands for its inputs (dist/src/..., node_modules/...), any other file for
 * itself. Node's built-ins (node:...) are left out.
 */
function sourcesOf(urls: string[]): string[] {
  const meta = JSON.parse(readFileSync(BUNDLE_META, 'utf8')) as { outputs: Record<string, { inputs: Record<string, unknown> }> };
  return urls.filter((u) => u.startsWith('file:')).flatMap((u) => {
    const rel = relative(REPO_ROOT, fileURLToPath(u));
    const chunk = meta.outputs[rel];
    return chunk ? Object.keys(chunk.inputs) : [rel];
  });
}

const sdkClients = (mods: string[]) => [...new Set(mods.map((m) => /@aws-sdk\/(client-[a-z0-9-]+)\//.exec(m)?.[1]).filter((x): x is string => x !== undefined))].sort();
const ours = (mods: string[], dir: string) => mods.filter((m) => m.startsWith(`dist/src/${dir}/`));

describe('lazy loading', () => {
  test("hello's capabilities, computed without the registries, are what the registries implement", () => {
    const caps = capabilitiesOf(defaultHandlers({ aws: undefined as never }));
    expect([...caps.accessKinds].sort()).toEqual(KINDS.map((k) => k.name).sort());
    expect([...caps.entityKinds].sort()).toEqual([...new Set(SOURCES.flatMap((s) => s.entityKinds))].sort());
    expect(caps.jobTypes).toEqual(['check', 'sync', 'grant', 'revoke']);
  });

  test("the daemon's generated action list is src/permissions.ts's", () => {
    expect([...DECLARED_ACTIONS]).toEqual([...declaredActions()].sort());
  });

  test('a connected daemon has loaded no AWS SDK client, sync source or access kind; a sync job loads what it uses', async () => {
    const { cp, loaded, internal } = await start();
    const idle = loaded();
    expect(idle).toContain('dist/src/daemon/daemon.js');
    expect(idle.filter((m) => /node_modules\/(@aws-sdk|@smithy)\//.test(m))).toEqual([]);
    // Nor Node's bundled undici, which an ES module import of node:http would load (src/node-http.ts).
    const afterWelcome = await internal();
    expect(afterWelcome).toContain('http');
    expect(afterWelcome.filter((m) => m.includes('undici'))).toEqual([]);
    // No policy file: the YAML parser is not loaded either (src/files.ts).
    expect(idle.filter((m) => /node_modules\/yaml\//.test(m))).toEqual([]);
    expect(ours(idle, 'sync/sources')).toEqual([]);
    expect(ours(idle, 'access/kinds')).toEqual([]);
    expect(ours(idle, 'access')).toEqual([]);

    const { jobId } = cp.sendJob({ jobType: 'sync', integration: demoIntegration(), params: { mode: 'full' } });
    expect(await cp.waitForResult(jobId, 60_000)).toMatchObject({ status: 'succeeded' });
    const after = loaded();
    expect(ours(after, 'sync/sources').length).toBeGreaterThan(0);
    expect(sdkClients(after)).toEqual(expect.arrayContaining(['client-organizations', 'client-sso-admin', 'client-sts']));
  });

  test('with a ledger, the sweeper reads it with the DynamoDB client only: no other client, source or kind', async () => {
    const { sim, loaded, internal } = await start({ LEDGER_TABLE: 'access-connector-ledger' });
    // The sweeper's first pass runs right after start: wait until the ledger was read.
    for (let i = 0; i < 200 && !(sim.stats.snapshot().total.calls > 0); i++) await new Promise((r) => setTimeout(r, 50));
    expect(sim.stats.snapshot().total.calls).toBeGreaterThan(0);
    const idle = loaded();
    expect(sdkClients(idle)).toEqual(['client-dynamodb']);
    // The SDK's HTTP handler imports node:http and node:http2 as ES modules; the bundle
    // gives it both through require(), http2 on first use (scripts/bundle.ts), so neither
    // Node's undici nor http2 is loaded by a daemon that made AWS calls.
    const afterCalls = await internal();
    expect(afterCalls).toContain('https');
    expect(afterCalls.filter((m) => /undici|http2/.test(m))).toEqual([]);
    expect(ours(idle, 'sync/sources')).toEqual([]);
    expect(ours(idle, 'access/kinds')).toEqual([]);
  });
});
