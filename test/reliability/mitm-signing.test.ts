// Scenario 8: a man in the middle. (1) Under pinning, an impostor holding a certificate
// from the same CA but another key, and one holding a certificate from another trusted CA
// that appends a forged certificate carrying the pinned key, each behind a proxy and
// reached directly, are refused on every reconnect over many cycles and never receive one
// byte of application data (so never the token). (2) In signed-jobs mode, unsigned, tampered (each field), replayed,
// wrong-key and expired jobs never reach AWS and each gets the answer docs/protocol.md ("Signed jobs") gives.
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { createServer as createTlsServer } from 'node:tls';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { signingInput } from '../../src/protocol/signature.js';
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import { demoIntegration } from '../sim/aws/worlds/demo.js';
import { ReferenceControlPlane, type ControlPlaneEvent } from '../sim/control-plane/server.js';
import { chainPki, testPki } from '../helpers/certs.js';
import { ConnectorProcess, connectorEnv } from '../helpers/process.js';
import { ConnectProxy } from '../helpers/proxy.js';
import { report, size } from './report.js';

const TIMING = JSON.stringify({ firstReconnectMaxMs: 200, backoffBaseMs: 50, backoffCapMs: 300 });
const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});
function connector(env: Record<string, string>): ConnectorProcess {
  const p = new ConnectorProcess({ TEST_CONNECTOR_TIMING: TIMING, ...env });
  cleanup.push(() => p.stop());
  return p;
}

/**
 * A TLS endpoint with a valid certificate and another key, counting handshakes and every
 * byte it decrypts: by default from the same CA; `forged` presents another trusted CA's
 * chain with a forged certificate carrying the pinned root key appended.
 */
async function impostor(forged = false) {
  const pki = testPki();
  const creds = forged ? { key: chainPki().other.leafKeyPem, cert: chainPki().forge('root') } : { key: pki.impostor.keyPem, cert: pki.impostor.certPem };
  const state = { connections: 0, handshakes: 0, bytes: 0, data: '' };
  const server = createTlsServer(creds, (sock) => {
    state.handshakes++;
    sock.on('data', (d: Buffer) => {
      state.bytes += d.length;
      state.data += d.toString('latin1');
    });
    sock.on('error', () => {});
  });
  // Every TCP connection is one attempt; the connector may reset it before the server's side of the handshake ends.
  server.on('connection', () => state.connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  cleanup.push(() => new Promise((r) => server.close(() => r(undefined))));
  return { port: (server.address() as AddressInfo).port, state };
}

async function until(what: string, test: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('a man in the middle under pinning (other key; forged pinned-key certificate), through a proxy and direct, over many reconnects: refused every time, zero bytes to the impostor', async () => {
  const started = Date.now();
  const cycles = size(5, 100);
  const pki = testPki();
  const token = 'mitm-canary-token-41f9c2';
  const pinned = { CONTROL_PLANE_CA_FILE: pki.caFile, CONTROL_PLANE_PINS: `sha256/${pki.server.pin}`, CONNECTOR_TOKEN: token, ALLOW_INSECURE_CONTROL_PLANE: 'false' };
  const behindProxy = await impostor();
  const proxy = await ConnectProxy.start({ redirectToPort: behindProxy.port });
  cleanup.push(() => proxy.close());
  const direct = await impostor();
  const viaProxy = connector(connectorEnv('wss://localhost:443/v1/connect', { ...pinned, CONNECTOR_ID: 'via-proxy', HTTPS_PROXY: `http://127.0.0.1:${proxy.port}` }));
  const straight = connector(connectorEnv(`wss://localhost:${direct.port}/v1/connect`, { ...pinned, CONNECTOR_ID: 'direct' }));
  // The forger: a valid chain from another trusted CA plus a certificate claiming the pinned root key.
  const chain = chainPki();
  const forgedPins = { ...pinned, CONTROL_PLANE_CA_FILE: chain.caFile, CONTROL_PLANE_PINS: `sha256/${chain.real.pins.root}` };
  const forgedBehindProxy = await impostor(true);
  const forgedProxy = await ConnectProxy.start({ redirectToPort: forgedBehindProxy.port });
  cleanup.push(() => forgedProxy.close());
  const forgedDirect = await impostor(true);
  const forgedViaProxy = connector(connectorEnv('wss://localhost:443/v1/connect', { ...forgedPins, CONNECTOR_ID: 'forged-via-proxy', HTTPS_PROXY: `http://127.0.0.1:${forgedProxy.port}` }));
  const forgedStraight = connector(connectorEnv(`wss://localhost:${forgedDirect.port}/v1/connect`, { ...forgedPins, CONNECTOR_ID: 'forged-direct' }));
  const impostors = [behindProxy, direct, forgedBehindProxy, forgedDirect];
  const connectors = [viaProxy, straight, forgedViaProxy, forgedStraight];

  await until(`${cycles} refused connections on each path`, () => impostors.every((i) => i.state.connections >= cycles), size(60_000, 600_000));
  const refusals = (c: ConnectorProcess) => c.logs().filter((e) => e['event'] === 'connection.failed' || String(e['msg']).startsWith('connection attempt failed'));
  await until('a log line for each refusal', () => connectors.every((c) => refusals(c).length >= cycles), 15_000);
  for (const c of connectors) {
    expect([...new Set(refusals(c).map((e) => e['code']))]).toEqual(['CONTROL_PLANE_PIN_MISMATCH']);
    expect(c.logs().some((e) => e['event'] === 'connection.ready')).toBe(false);
    expect(c.child.exitCode).toBeNull();
    const health = await c.healthUrl();
    expect((await fetch(`${health}/healthz`)).status).toBe(200);
    expect((await fetch(`${health}/readyz`)).status).toBe(503);
    expect(c.output()).not.toContain(token);
  }
  for (const p of [proxy, forgedProxy]) {
    expect(p.requests.length).toBeGreaterThanOrEqual(cycles);
    expect(p.requests.every((r) => r.target === 'localhost:443' && r.proxyAuthorization === undefined)).toBe(true);
  }
  expect(impostors.map((i) => i.state.bytes)).toEqual([0, 0, 0, 0]);

  // Control: the impostor's certificate is valid. Without pins the connector trusts it and
  // sends it the upgrade with the token, which is what pinning prevented above.
  const exposed = await impostor();
  connector(connectorEnv(`wss://localhost:${exposed.port}/v1/connect`, { CONTROL_PLANE_CA_FILE: pki.caFile, CONNECTOR_TOKEN: token, ALLOW_INSECURE_CONTROL_PLANE: 'false', CONNECTOR_ID: 'unpinned' }));
  await until('the unpinned connector to talk to the impostor', () => exposed.state.data.includes(`Bearer ${token}`), 15_000);

  report('mitm-pinning', {
    cyclesPerPath: cycles,
    refusedViaProxy: behindProxy.state.connections,
    refusedDirect: direct.state.connections,
    forgedRefusedViaProxy: forgedBehindProxy.state.connections,
    forgedRefusedDirect: forgedDirect.state.connections,
    serverSideHandshakesCompleted: impostors.reduce((n, i) => n + i.state.handshakes, 0),
    proxyTunnels: proxy.requests.length + forgedProxy.requests.length,
    impostorBytes: impostors.reduce((n, i) => n + i.state.bytes, 0),
    tokenSeenByImpostor: impostors.some((i) => i.state.data.includes(token)),
    unpinnedControlSawToken: exposed.state.data.includes(token),
    durationMs: Date.now() - started,
  });
}, size(90_000, 900_000));

// ---------------------------------------------------------------------------------
// Signed jobs

const keyIdOf = (k: KeyObject) => createHash('sha256').update(k.export({ type: 'spki', format: 'der' })).digest('base64url');
function signed(frame: Record<string, unknown>, key: KeyObject): Record<string, unknown> {
  const { signature: _s, ...rest } = frame;
  return { ...rest, signature: sign(null, Buffer.from(signingInput(rest), 'utf8'), key).toString('base64') };
}
/** Every leaf of a value, as a path. */
function paths(v: unknown, at: Array<string | number> = []): Array<Array<string | number>> {
  if (Array.isArray(v)) return v.length ? v.flatMap((x, i) => paths(x, [...at, i])) : [at];
  if (v && typeof v === 'object') return Object.entries(v).flatMap(([k, x]) => paths(x, [...at, k]));
  return [at];
}
function setAt(o: Record<string, unknown>, path: ReadonlyArray<string | number>, value: unknown): Record<string, unknown> {
  const copy = structuredClone(o);
  let at = copy as Record<string | number, unknown>;
  for (const k of path.slice(0, -1)) at = at[k] as Record<string | number, unknown>;
  if (value === undefined) delete at[path[path.length - 1]!];
  else at[path[path.length - 1]!] = value;
  return copy;
}
/** A different value of the same shape, so only the signature can tell. */
function nudge(v: unknown): unknown {
  if (typeof v === 'string' && v.startsWith('sj-')) return `${v}-t`; // a jobId of its own
  if (typeof v === 'string') return /^\d{4}-\d\d-\d\dT/.test(v) ? new Date(Date.parse(v) + 1000).toISOString() : `${v.slice(0, -1)}${v.endsWith('1') ? '2' : '1'}`;
  if (typeof v === 'number') return v + 1;
  if (typeof v === 'boolean') return !v;
  if (Array.isArray(v)) return [...v, '333333333309'];
  return { extra: 1 };
}

describe('signed jobs', () => {
  let sim: AwsSimulator;
  let cp: ReferenceControlPlane;
  const answers = new Map<string, Array<Record<string, unknown>>>();
  const good = generateKeyPairSync('ed25519');
  const wrong = generateKeyPairSync('ed25519');
  beforeAll(async () => {
    sim = await startAwsSimulator({ world: 'demo', quotas: false, sso: { assignmentDelayMs: 50 } });
  });
  afterAll(async () => {
    await sim.close();
  });

  test('unsigned, tampered (each field), replayed, wrong-key and expired jobs never reach AWS; each gets its documented answer', async () => {
    const started = Date.now();
    cp = await ReferenceControlPlane.start({
      onEvent: (e: ControlPlaneEvent) => {
        if (e.kind !== 'frame' || e.direction !== 'in' || typeof e.frame?.['jobId'] !== 'string') return;
        answers.set(e.frame['jobId'], [...(answers.get(e.frame['jobId']) ?? []), e.frame]);
      },
    });
    cleanup.push(() => cp.close());
    const c = connector({
      ...connectorEnv(cp.url, { CONNECTOR_ID: 'conn-signed', CONTROL_PLANE_JOB_PUBLIC_KEY: good.publicKey.export({ type: 'spki', format: 'pem' }).toString(), LEDGER_TABLE: 'access-connector-ledger', GRANT_SWEEP_INTERVAL_SECONDS: '3600' }),
      ...sim.env,
    });
    await cp.waitForSession(15_000);
    const sso = sim.world.sso!;
    const user = [...sso.users.values()].find((u) => u.UserName === 'frank@example.com')!.UserId;
    const ps = [...sso.permissionSets.values()].find((p) => p.name === 'ReadOnly')!.arn;
    let n = 0;
    const job = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
      type: 'job',
      id: `f-${n}`,
      jobId: `sj-${n++}`,
      jobType: 'grant',
      attempt: 1,
      notAfter: new Date(Date.now() + 10 * 60_000).toISOString(),
      connectorId: 'conn-signed',
      keyId: keyIdOf(good.publicKey),
      integration: demoIntegration({ excludeAccountIds: [] }),
      params: { grantId: `sg-${n}`, accessKind: 'sso.accountAssignment', principal: { type: 'user', id: user }, target: { accountId: '333333333303', permissionSetArn: ps }, expiresAt: new Date(Date.now() + 3_600_000).toISOString() },
      ...over,
    });
    const send = (f: Record<string, unknown> | string) => cp.sendRaw(typeof f === 'string' ? f : JSON.stringify(f));
    const answered = (jobId: string, count = 1) => until(`${count} answer(s) to ${jobId}`, () => (answers.get(jobId) ?? []).filter((f) => f['type'] !== 'job.accepted').length >= count, 30_000);
    const calls = () => sim.stats.snapshot().total.calls;

    // A genuine signed grant runs: the setup can reach AWS, so "no call" below means refused.
    const genuine = signed(job(), good.privateKey);
    send(genuine);
    await answered(String(genuine['jobId']));
    const result = answers.get(String(genuine['jobId']))!.find((f) => f['type'] === 'job.result')!;
    expect(result).toMatchObject({ status: 'succeeded' });
    // The count is taken once all that set-up did is over: the grant's calls end before its
    // result (its lock's renewals and release included), and the start-up ledger sweep,
    // idle on the empty ledger it started with, makes two Scans (grants, then access
    // records) and no other call. Waiting for those two replaces "no call for a second",
    // a quiet period a loaded machine may break.
    await until('the start-up sweep\'s two ledger Scans', () => (sim.stats.snapshot().byOperation['dynamodb:Scan']?.calls ?? 0) >= 2, 30_000);
    const before = calls();

    // [what, frame, expected answer]: a reason, or the stored result of the genuine job.
    const cases: Array<[string, Record<string, unknown> | string, string]> = [];
    cases.push(['unsigned', job(), 'signature']);
    const { keyId: _k, ...noKeyId } = job();
    cases.push(['unsigned, no keyId', noKeyId, 'signature']);
    for (const path of paths(job()).filter((p) => !['type', 'id'].includes(String(p[0])))) {
      const base = signed(job(), good.privateKey);
      const tampered = setAt(base, path, nudge(path.reduce<unknown>((o, k) => (o as Record<string | number, unknown>)[k], base)));
      cases.push([`tampered ${path.join('.')}`, tampered, 'signature']);
      if (path[0] !== 'jobId') cases.push([`removed ${path.join('.')}`, setAt(base, path, undefined), 'signature']);
    }
    cases.push(['added top-level field', { ...signed(job(), good.privateKey), future: 1 }, 'signature']);
    cases.push(['added params field', setAt(signed(job(), good.privateKey), ['params', 'note'], 'x'), 'signature']);
    const sig = (f: Record<string, unknown>) => String(f['signature']);
    const flip = (s: string) => Buffer.from(Buffer.from(s, 'base64').map((b, i) => (i === 10 ? b ^ 1 : b))).toString('base64');
    const s1 = signed(job(), good.privateKey);
    cases.push(['signature bit flipped', { ...s1, signature: flip(sig(s1)) }, 'signature']);
    cases.push(['signature truncated', { ...signed(job(), good.privateKey), signature: sig(s1).slice(0, 40) }, 'signature']);
    cases.push(['signature not base64', { ...signed(job(), good.privateKey), signature: '!!not-base64!!' }, 'signature']);
    cases.push(['signature empty', { ...signed(job(), good.privateKey), signature: '' }, 'signature']);
    cases.push(['wrong key, its own keyId', signed(job({ keyId: keyIdOf(wrong.publicKey) }), wrong.privateKey), 'signature']);
    cases.push(['wrong key, the trusted keyId', signed(job(), wrong.privateKey), 'signature']);
    const { keyId: _k2, ...anyKey } = job();
    cases.push(['wrong key, no keyId', signed(anyKey, wrong.privateKey), 'signature']);
    cases.push(['another connector', signed(job({ connectorId: 'conn-other' }), good.privateKey), 'signature']);
    cases.push(['notAfter 20 min ahead', signed(job({ notAfter: new Date(Date.now() + 20 * 60_000).toISOString() }), good.privateKey), 'signature']);
    // Numbers JSON carries but canonical JSON (RFC 8785) cannot: refused, not dropped.
    const huge = signed(job(), good.privateKey);
    cases.push(['non-finite number (1e400)', JSON.stringify(huge).replace('"attempt":1', '"attempt":1e400'), 'signature']);
    cases.push(['expired, validly signed', signed(job({ notAfter: new Date(Date.now() - 5 * 60_000).toISOString() }), good.privateKey), 'expired']);
    cases.push(['replay, same frame', genuine, 'stored']);
    cases.push(['replay, new frame id', { ...genuine, id: 'replayed-frame' }, 'stored']);
    const sameJobId = signed(job({ jobId: genuine['jobId'], params: { ...(job()['params'] as object), target: { accountId: '333333333304', permissionSetArn: ps } } }), good.privateKey);
    cases.push(['replay, same jobId with new validly signed content', sameJobId, 'stored']);

    // Random tampering: any change to any signed field (fast-check, seeded), jobId aside (a
    // malformed jobId is answered with `error` before signatures: docs/protocol.md, "Admission").
    const leaves = paths(job()).filter((p) => !['type', 'id', 'jobId', 'signature'].includes(String(p[0])));
    const random = fc.sample(fc.tuple(fc.nat(), fc.jsonValue({ maxDepth: 2 })), { numRuns: size(100, 3000), seed: 8_080 });
    for (const [pick, value] of random) {
      const base = signed(job(), good.privateKey);
      const path = leaves[pick % leaves.length]!;
      const old = path.reduce<unknown>((o, k) => (o as Record<string | number, unknown>)[k], base);
      if (JSON.stringify(old) === JSON.stringify(value)) continue;
      cases.push([`random ${path.join('.')}`, setAt(base, path, value), 'signature']);
    }

    const counts = new Map<string, number>();
    for (const [, frame] of cases) {
      const jobId = String((typeof frame === 'string' ? JSON.parse(frame.replace('1e400', '1')) : frame)['jobId']);
      counts.set(jobId, (counts.get(jobId) ?? 0) + 1);
      send(frame);
      await answered(jobId, (jobId === genuine['jobId'] ? 1 : 0) + counts.get(jobId)!);
    }
    // Each signature-rejected case twice: those rejections are not stored, so a resend is judged afresh.
    for (const [what, frame, want] of cases.filter(([, , w]) => w === 'signature').slice(0, 20)) {
      const jobId = String((typeof frame === 'string' ? JSON.parse(frame.replace('1e400', '1')) : frame)['jobId']);
      counts.set(jobId, counts.get(jobId)! + 1);
      send(frame);
      await answered(jobId, counts.get(jobId)!);
      expect({ what, reason: answers.get(jobId)!.at(-1)!['reason'] }).toEqual({ what, reason: want });
    }
    await new Promise((r) => setTimeout(r, 500));

    const wrongAnswers: string[] = [];
    const tally: Record<string, number> = {};
    for (const [what, frame, want] of cases) {
      const jobId = String((typeof frame === 'string' ? JSON.parse(frame.replace('1e400', '1')) : frame)['jobId']);
      const got = answers.get(jobId)!;
      const ok =
        want === 'stored'
          ? got.filter((f) => f['type'] === 'job.result').every((f) => f['id'] === result['id']) && !got.some((f) => f['type'] === 'job.rejected')
          : got.every((f) => f['type'] === 'job.rejected' && f['reason'] === want);
      tally[want] = (tally[want] ?? 0) + 1;
      if (!ok) wrongAnswers.push(`${what}: ${JSON.stringify(got.map((f) => [f['type'], f['reason'] ?? f['status'], f['message']]))}`);
    }
    expect(wrongAnswers).toEqual([]);
    expect(calls()).toBe(before);
    expect(c.child.exitCode).toBeNull();
    expect(c.logs().filter((e) => e['code'] === 'INTERNAL_ERROR')).toEqual([]);
    expect(cp.violations).toEqual([]);

    report('signed-jobs', {
      cases: cases.length,
      answers: tally,
      tamperedFields: paths(job()).length,
      randomTampers: cases.filter(([what]) => what.startsWith('random ')).length,
      awsCallsDuringCases: calls() - before,
      durationMs: Date.now() - started,
    });
  }, size(90_000, 900_000));
});
