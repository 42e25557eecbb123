// Scenario 7a: whatever a control plane sends, the connector answers it the way docs/protocol.md ("General rules")
// says and executes none of it. Seeded fast-check frames (malformed, oversized, deeply
// nested, wrong-typed, unknown) go over a real WebSocket to a real connector process whose
// AWS endpoint is the simulator. Answers come back in order on one socket, so each one is
// matched to the frame that caused it; frames the protocol ignores must get no answer.
import fc from 'fast-check';
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import { ReferenceControlPlane, DEMO_INTEGRATION, type ControlPlaneEvent } from '../sim/control-plane/server.js';
import { ConnectorProcess, connectorEnv } from '../helpers/process.js';
import { report, size } from './report.js';

const MiB = 1024 * 1024;
const SEED = 20_240_807;
const CASES = size(10_000, 100_000);
const CHUNK = 500;
const TIMING = JSON.stringify({ firstReconnectMaxMs: 200, backoffBaseMs: 100, backoffCapMs: 400 });

type Answer = { kind: 'error'; code: string } | { kind: 'rejected'; reason: string } | { kind: 'none' };
interface Case {
  family: string;
  data: Buffer;
  binary: boolean;
  expect: Answer;
}
type Build = (i: number) => { family: string; text?: string; bytes?: Buffer; binary?: boolean; expect: Answer };

const KNOWN_TYPES = new Set(['welcome', 'job', 'job.cancel', 'ack', 'error']);
const HANDLED_JOB_TYPES = new Set(['sync', 'grant', 'revoke', 'check', 'test.sleep']);
/** Characters no pattern-checked field accepts. */
const BAD_CHAR = fc.constantFrom(' ', ';', '"', '$', '|', '`', '\n', '\u0000', '\u202e', '\u0430', '*', '<');

const parses = (s: string) => {
  try {
    JSON.parse(s);
    return true;
  } catch {
    return false;
  }
};
// Never undefined: a missing optional field would make the frame valid. "Missing" is asked for explicitly.
const defined = fc.anything({ maxDepth: 2 }).filter((v) => v !== undefined);
const notString = defined.filter((v) => typeof v !== 'string');
const notArray = defined.filter((v) => !Array.isArray(v));
const tooLong = (max: number) => fc.integer({ min: max + 1, max: max + 300 }).map((n) => 'x'.repeat(n));
const tainted = fc.tuple(fc.string({ maxLength: 12 }), BAD_CHAR, fc.string({ maxLength: 12 })).map((p) => p.join(''));
const extras = fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 });
const futureIso = () => new Date(Date.now() + 600_000).toISOString();

function validJob(i: number, jobType: string): Record<string, unknown> {
  return { type: 'job', id: `f-${i}`, jobId: `fz-${i}`, jobType, attempt: 1, notAfter: futureIso(), integration: { ...DEMO_INTEGRATION }, params: {} };
}
/** Sets or (for undefined) deletes `path` in a copy of `o`. */
function setPath(o: Record<string, unknown>, path: readonly string[], value: unknown): Record<string, unknown> {
  const copy = structuredClone(o);
  let at: Record<string, unknown> = copy;
  for (const k of path.slice(0, -1)) at = at[k] as Record<string, unknown>;
  const last = path[path.length - 1]!;
  if (value === undefined) delete at[last];
  else at[last] = value;
  return copy;
}

// Each family yields frames with one known answer under docs/protocol.md, "General rules" and "Admission".
const families: Array<{ weight: number; arbitrary: fc.Arbitrary<Build> }> = [
  {
    weight: 2,
    arbitrary: fc
      .string({ unit: 'binary', maxLength: 300 })
      .filter((s) => !/[[{]/.test(s) && !parses(Buffer.from(s).toString()))
      .map((s) => () => ({ family: 'not-json', text: s, expect: { kind: 'error', code: 'FRAME_INVALID_JSON' } })),
  },
  {
    weight: 1,
    arbitrary: fc.uint8Array({ maxLength: 256 }).map((b) => () => ({ family: 'binary', bytes: Buffer.from(b), binary: true, expect: { kind: 'error', code: 'FRAME_NOT_TEXT' } })),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(fc.integer({ min: 1, max: 3000 }), fc.constantFrom('array', 'object', 'in-job', 'in-string')).map(([d, how]) => (i: number) => {
      const deep = d > 64;
      if (how === 'array') return { family: 'nested', text: '['.repeat(d) + ']'.repeat(d), expect: deep ? { kind: 'error', code: 'FRAME_TOO_DEEP' } : { kind: 'error', code: 'FRAME_NOT_OBJECT' } };
      if (how === 'object') return { family: 'nested', text: '{"a":'.repeat(d) + '1' + '}'.repeat(d), expect: { kind: 'error', code: deep ? 'FRAME_TOO_DEEP' : 'FRAME_INVALID' } };
      if (how === 'in-string') {
        // Brackets inside strings (escaped quotes included) are not nesting.
        return { family: 'nested', text: JSON.stringify({ type: 'x.unknown', id: `f-${i}`, s: '[\\"{'.repeat(d) }), expect: { kind: 'none' } };
      }
      const job = JSON.stringify(validJob(i, 'grant')).replace('"params":{}', `"params":{"n":${'['.repeat(d)}${']'.repeat(d)}}`);
      return { family: 'nested', text: job, expect: d + 2 > 64 ? { kind: 'error', code: 'FRAME_TOO_DEEP' } : { kind: 'rejected', reason: 'invalid' } };
    }),
  },
  {
    weight: 1,
    arbitrary: fc
      .jsonValue({ maxDepth: 4 })
      .filter((v) => v === null || typeof v !== 'object' || Array.isArray(v))
      .map((v) => () => ({ family: 'not-object', text: JSON.stringify(v), expect: { kind: 'error', code: 'FRAME_NOT_OBJECT' } })),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(extras, fc.option(fc.oneof(notString, fc.constant(''), tooLong(64)), { nil: undefined })).map(([x, type]) => (i: number) => {
      const o: Record<string, unknown> = { ...x, id: `f-${i}` };
      if (type === undefined) delete o['type'];
      else o['type'] = type;
      return { family: 'bad-type', text: JSON.stringify(o), expect: { kind: 'error', code: 'FRAME_INVALID' } };
    }),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(extras, fc.string({ minLength: 1, maxLength: 64 }).filter((t) => !KNOWN_TYPES.has(t)))
      .map(([x, type]) => (i: number) => ({ family: 'unknown-type', text: JSON.stringify({ ...x, type, id: `f-${i}` }), expect: { kind: 'none' } })),
  },
  {
    weight: 2,
    arbitrary: fc
      .oneof(
        fc.oneof(notArray, fc.array(fc.oneof(notString, fc.constant(''), tooLong(128)), { minLength: 1, maxLength: 3 })).map((ids) => ({ type: 'ack', ids })),
        fc.oneof(notString, fc.constant(''), tainted, tooLong(128)).map((jobId) => ({ type: 'job.cancel', jobId })),
        fc.oneof(fc.oneof(notString, fc.constant(''), tooLong(128)).map((code) => ({ code, message: 'm' })), fc.oneof(notString, tooLong(4096)).map((message) => ({ code: 'C', message }))).map((f) => ({ type: 'error', ...f })),
        // A second welcome on a ready session: a bad one is still answered (regression: it was ignored unchecked).
        fc.oneof(
          fc.oneof(notString, fc.constant(''), tooLong(256)).map((sessionId) => ({ type: 'welcome', sessionId })),
          fc.oneof(fc.integer({ min: -1000, max: 4 }), fc.integer({ min: 121, max: 1_000_000 }), fc.constant('20')).map((heartbeatSeconds) => ({ type: 'welcome', sessionId: 's', heartbeatSeconds })),
        ),
      )
      .map((f) => (i: number) => ({ family: 'known-type-bad-fields', text: JSON.stringify({ id: `f-${i}`, ...f }), expect: { kind: 'error', code: 'FRAME_INVALID' } })),
  },
  {
    weight: 1,
    arbitrary: fc
      .oneof(
        fc.array(fc.string({ minLength: 1, maxLength: 128 }), { maxLength: 5 }).map((ids) => ({ type: 'ack', ids })),
        fc.stringMatching(/^[A-Za-z0-9._:-]{1,40}$/).map((jobId) => ({ type: 'job.cancel', jobId: `nx-${jobId}` })),
        fc.record({ code: fc.string({ minLength: 1, maxLength: 20 }), message: fc.string({ maxLength: 100 }) }).map((e) => ({ type: 'error', ...e })),
      )
      .map((f) => (i: number) => ({ family: 'known-type-valid', text: JSON.stringify({ id: `f-${i}`, ...f }), expect: { kind: 'none' } })),
  },
  {
    weight: 1,
    arbitrary: fc.option(fc.oneof(notString, fc.constant(''), tainted, tooLong(128)), { nil: undefined }).map((jobId) => (i: number) => ({
      family: 'job-bad-jobId',
      text: JSON.stringify(setPath(validJob(i, 'grant'), ['jobId'], jobId)),
      expect: { kind: 'error', code: 'FRAME_INVALID' },
    })),
  },
  {
    weight: 3,
    arbitrary: fc
      .tuple(
        fc.constantFrom('sync', 'grant', 'revoke', 'check'),
        extras,
        fc.oneof(
          fc.tuple(fc.constant(['id']), fc.oneof(notString, fc.constant(''), tooLong(128))),
          fc.tuple(fc.constant(['jobType']), fc.oneof(notString, fc.constant(''), tooLong(64))),
          fc.tuple(fc.constant(['attempt']), fc.oneof(fc.constant(1.5), fc.integer({ max: -1 }), fc.integer({ min: 1_000_001 }), fc.string(), fc.boolean())),
          fc.tuple(fc.constant(['notAfter']), fc.oneof(fc.constant(undefined), fc.string({ maxLength: 30 }), fc.integer(), fc.constant(null))),
          fc.tuple(fc.constant(['connectorId']), fc.oneof(notString, fc.constant(''), tooLong(128))),
          fc.tuple(fc.constant(['params']), fc.oneof(fc.constant(undefined), fc.array(fc.jsonValue({ maxDepth: 1 })), fc.string(), fc.integer(), fc.constant(null))),
          fc.tuple(fc.constant(['keyId']), fc.oneof(notString, fc.constant(''), tooLong(128))),
          fc.tuple(fc.constant(['signature']), fc.oneof(notString, fc.constant(''), tooLong(256))),
          fc.tuple(fc.constant(['integration']), fc.oneof(fc.constant(undefined), fc.string(), fc.array(fc.integer()), fc.constant(null))),
          fc.tuple(fc.constantFrom(['integration', 'id'], ['integration', 'name']), fc.oneof(fc.constant(undefined), notString, fc.constant(''), tooLong(256))),
          fc.tuple(
            fc.constantFrom(['integration', 'region'], ['integration', 'roleArn'], ['integration', 'externalId'], ['integration', 'profile'], ['integration', 'memberRoleName'], ['integration', 'ssoRegion'], ['integration', 'type']),
            fc.oneof(notString, tainted),
          ),
          fc.tuple(fc.constantFrom(['integration', 'excludeAccountIds'], ['integration', 'regions'], ['integration', 'resourceTypes'], ['integration', 'excludeOrganizationalUnitIds']), fc.oneof(notArray, tainted.map((t) => [t]))),
          fc.tuple(fc.constantFrom(['integration', 'userCleanupAfterDays'], ['integration', 'credentialRotationDays']), fc.oneof(fc.constant(0.5), fc.integer({ max: -1 }), fc.integer({ min: 3651 }), fc.string())),
          fc.tuple(fc.constantFrom(['integration', 'enableAudit'], ['integration', 'allowManagementAccount']), fc.oneof(fc.string(), fc.integer(), fc.constant(null))),
          fc.tuple(fc.constant(['integration', 'customAccessDetails']), tooLong(400)),
          fc.tuple(fc.constant(['integration', 'ssoPortalUrl']), tooLong(512)),
        ),
      )
      .map(([jobType, x, [path, value]]) => (i: number) => ({
        family: 'job-schema',
        text: JSON.stringify(setPath({ ...x, ...validJob(i, jobType) }, path, value)),
        expect: { kind: 'rejected', reason: 'invalid' },
      })),
  },
  {
    weight: 1,
    arbitrary: fc
      .string({ minLength: 1, maxLength: 64 })
      .filter((t) => !HANDLED_JOB_TYPES.has(t))
      .map((jobType) => (i: number) => ({ family: 'job-unsupported', text: JSON.stringify(validJob(i, jobType)), expect: { kind: 'rejected', reason: 'unsupported' } })),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('2020-01-01T00:00:00Z'), noInvalidDate: true }), fc.constantFrom('sync', 'grant', 'revoke', 'check', 'nope'))
      .map(([d, jobType]) => (i: number) => ({
        family: 'job-expired',
        text: JSON.stringify({ ...validJob(i, jobType), notAfter: d.toISOString() }),
        expect: { kind: 'rejected', reason: 'expired' },
      })),
  },
  {
    weight: 2,
    arbitrary: fc
      .oneof(
        fc.tuple(fc.constantFrom('grant', 'revoke'), fc.dictionary(fc.string({ maxLength: 10 }).filter((k) => k !== 'grantId'), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 5 })),
        fc.tuple(fc.constantFrom('grant', 'revoke'), fc.oneof(notString, tainted).map((grantId) => ({ grantId, accessKind: 'sso.accountAssignment' }))),
        fc.tuple(fc.constant('sync'), fc.oneof(fc.oneof(notString, tainted).map((mode) => ({ mode })), tainted.map((since) => ({ mode: 'delta', since })), fc.constant({ mode: 'delta' }), tainted.map((a) => ({ accountIds: [a] })), fc.string({ maxLength: 200 }).map((resumeFrom) => ({ resumeFrom })))),
        fc.tuple(fc.constant('check'), fc.oneof(fc.constant(0), fc.constant(51), fc.constant(1.5), fc.string(), fc.constant(null)).map((sampleAccounts) => ({ sampleAccounts }))),
      )
      .map(([jobType, params]) => (i: number) => ({
        family: 'job-params',
        text: JSON.stringify({ ...validJob(i, jobType), params }),
        expect: { kind: 'rejected', reason: 'invalid' },
      })),
  },
];

function generate(n: number): Case[] {
  const builds = fc.sample(fc.oneof(...families), { numRuns: n, seed: SEED });
  return builds.map((b, i) => {
    const c = b(i);
    return { family: c.family, data: c.bytes ?? Buffer.from(c.text ?? '', 'utf8'), binary: c.binary ?? false, expect: c.expect };
  });
}

/** The answer docs/protocol.md prescribes ("General rules"), with the ids that tie it to the frame as the connector read it. */
function expected(c: Case): { type: string; code?: string; refId?: string; jobId?: string; reason?: string } | undefined {
  if (c.expect.kind === 'none') return undefined;
  let raw: Record<string, unknown> = {};
  if (!c.binary && c.data.length <= MiB && !['FRAME_TOO_DEEP', 'FRAME_INVALID_JSON', 'FRAME_NOT_OBJECT'].includes((c.expect as { code?: string }).code ?? '')) {
    raw = JSON.parse(c.data.toString('utf8')) as Record<string, unknown>;
  }
  if (c.expect.kind === 'rejected') return { type: 'job.rejected', jobId: String(raw['jobId']), reason: c.expect.reason };
  const id = raw['id'];
  const refId = typeof id === 'string' && id.length > 0 && id.length <= 128 && c.expect.code !== 'FRAME_TOO_LARGE' ? id : undefined;
  return { type: 'error', code: c.expect.code, ...(refId !== undefined && { refId }) };
}

function got(f: Record<string, unknown>): Record<string, unknown> {
  return f['type'] === 'job.rejected'
    ? { type: f['type'], jobId: f['jobId'], reason: f['reason'] }
    : { type: f['type'], ...(f['code'] !== undefined && { code: f['code'] }), ...(f['refId'] !== undefined && { refId: f['refId'] }), ...(f['jobId'] !== undefined && { jobId: f['jobId'] }) };
}

let sim: AwsSimulator;
let cp: ReferenceControlPlane;
let c: ConnectorProcess;
const inbound: Array<Record<string, unknown>> = [];

beforeAll(async () => {
  sim = await startAwsSimulator({ world: 'demo', quotas: false });
  cp = await ReferenceControlPlane.start({
    onEvent: (e: ControlPlaneEvent) => {
      if (e.kind === 'frame' && e.direction === 'in' && e.frame) inbound.push(e.frame);
    },
  });
  c = new ConnectorProcess({ ...connectorEnv(cp.url, { LOG_LEVEL: 'info', TEST_CONNECTOR_TIMING: TIMING }), ...sim.env });
  await cp.waitForSession(15_000);
});
afterAll(async () => {
  await c.stop();
  await cp.close();
  await sim.close();
});

/**
 * Sends the cases and a sentinel, waits for an answer to each of them, and checks that the
 * answers are exactly the expected ones. docs/protocol.md ("Order") orders frames within a
 * job only: the answers to different frames may interleave (a job waits while its job type
 * loads, an error for a later frame does not), and each names the frame it answers
 * (`jobId`, `refId`), so they are matched as a multiset, not by position.
 */
async function run(cases: Case[], tally: Map<string, number>): Promise<void> {
  const from = inbound.length;
  const sentinel: Case = { family: 'sentinel', data: Buffer.from(JSON.stringify({ type: 'ack', id: `sentinel-${from}`, ids: 0 })), binary: false, expect: { kind: 'error', code: 'FRAME_INVALID' } };
  const all = [...cases, sentinel];
  const wanted = all.map((k) => ({ k, e: expected(k) })).filter((x) => x.e !== undefined);
  for (const k of all) cp.sendRaw(k.data, { binary: k.binary });
  const deadline = Date.now() + 60_000;
  while (!(inbound.length - from >= wanted.length && inbound.slice(from).some((f) => f['refId'] === `sentinel-${from}`))) {
    if (Date.now() > deadline) throw new Error(`${inbound.length - from} of ${wanted.length} answers within 60 s`);
    await new Promise((r) => setTimeout(r, 5));
  }
  await new Promise((r) => setTimeout(r, 50)); // an answer nobody asked for would show here
  const answers = inbound.slice(from);
  const open = new Map<string, Array<(typeof wanted)[number]>>();
  for (const w of wanted) {
    const key = JSON.stringify(w.e);
    open.set(key, [...(open.get(key) ?? []), w]);
  }
  for (const a of answers) {
    const key = JSON.stringify(got(a));
    const w = open.get(key)?.shift();
    if (!w) throw new Error(`an answer no frame of this chunk asked for: ${JSON.stringify(a)}`);
    const t = w.k.family === 'sentinel' ? 'sentinel' : `${w.e!.type}:${w.e!.code ?? w.e!.reason}`;
    tally.set(t, (tally.get(t) ?? 0) + 1);
  }
  const missing = [...open.values()].flat();
  if (missing.length > 0) {
    const w = missing[0]!;
    throw new Error(`${missing.length} frame(s) got no matching answer, e.g.\nframe: ${w.k.family} ${w.k.binary ? '(binary)' : ''} ${w.k.data.toString('utf8').slice(0, 300)}\nexpected: ${JSON.stringify(w.e)}`);
  }
}

async function metric(name: string): Promise<string[]> {
  const text = await (await fetch(`${await c.healthUrl()}/metrics`)).text();
  return text.split('\n').filter((l) => l.startsWith(name));
}
const mib = async (name: string) => Math.round(Number((await metric(name))[0]?.split(' ')[1]) / MiB);

test(`${CASES} fuzzed frames over a real socket: each gets the answer the protocol prescribes, nothing runs, the connector stays up`, async () => {
  const started = Date.now();
  const memBefore = { rss: await mib('access_connector_process_resident_memory_bytes'), heap: await mib('access_connector_nodejs_heap_size_used_bytes') };
  const cases = generate(CASES);
  const tally = new Map<string, number>();
  const sending = Date.now();
  for (let k = 0; k < cases.length; k += CHUNK) await run(cases.slice(k, k + CHUNK), tally);
  const inSessionMs = Date.now() - sending;

  // Oversized frames the socket still carries (1 MiB < n ≤ 8 MiB) are answered like any bad frame.
  const big = size([MiB + 1, 4 * MiB, 8 * MiB], [MiB + 1, 2 * MiB, 3 * MiB, 4 * MiB, 5 * MiB, 6 * MiB, 7 * MiB, 8 * MiB - 1, 8 * MiB]);
  await run(
    big.map((n, i) => {
      const head = JSON.stringify({ ...validJob(CASES + i, 'grant'), pad: '' }).slice(0, -2);
      return { family: 'oversized', data: Buffer.from(head + 'x'.repeat(n - head.length - 2) + '"}'), binary: false, expect: { kind: 'error', code: 'FRAME_TOO_LARGE' } };
    }),
    tally,
  );
  // Past what the socket accepts (8 MiB), or not UTF-8 in a text frame: the connector closes
  // that connection (1009 / 1007) and dials again. Nothing else happens.
  const breakers = size(
    [{ data: Buffer.alloc(8 * MiB + 1, 0x20), code: 1009 }, { data: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), code: 1007 }],
    [...[8 * MiB + 1, 12 * MiB, 16 * MiB].map((n) => ({ data: Buffer.alloc(n, 0x20), code: 1009 })), ...[[0xff], [0xc3, 0x28], [0x7b, 0xed, 0xa0, 0x80, 0x7d]].map((b) => ({ data: Buffer.from(b), code: 1007 }))],
  );
  for (const b of breakers) {
    const sessions = cp.closes.length;
    cp.sendRaw(b.data);
    const deadline = Date.now() + 15_000;
    while (cp.closes.length === sessions && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(cp.closes.slice(sessions).map((x) => ({ code: x.code, by: x.by }))).toEqual([{ code: b.code, by: 'connector' }]);
    await cp.waitForSession(15_000);
  }

  // Alive, healthy, ready again; not one AWS call, not one job accepted; every frame it sent
  // passed the reference control plane's schema and ordering checks.
  expect(c.child.exitCode).toBeNull();
  const health = await c.healthUrl();
  expect((await fetch(`${health}/healthz`)).status).toBe(200);
  expect((await fetch(`${health}/readyz`)).status).toBe(200);
  expect(sim.stats.snapshot().total.calls).toBe(0);
  expect(await metric('access_connector_aws_calls_total{')).toEqual([]);
  expect((await metric('access_connector_jobs_received_total{')).filter((l) => l.includes('decision="accepted"'))).toEqual([]);
  expect(inbound.filter((f) => ['job.accepted', 'job.result', 'job.progress', 'sync.batch'].includes(String(f['type'])))).toEqual([]);
  expect(cp.violations).toEqual([]);
  expect(c.stderr.join('')).toBe('');

  const byFamily: Record<string, number> = {};
  for (const k of cases) byFamily[k.family] = (byFamily[k.family] ?? 0) + 1;
  const memAfter = { rss: await mib('access_connector_process_resident_memory_bytes'), heap: await mib('access_connector_nodejs_heap_size_used_bytes') };
  report('frames-fuzz', {
    seed: SEED,
    cases: cases.length,
    oversizedAnswered: big.length,
    connectionBreakers: breakers.length,
    byFamily,
    answers: Object.fromEntries(tally),
    unanswered: cases.filter((k) => k.expect.kind === 'none').length,
    bytesSent: cases.reduce((s, k) => s + k.data.length, 0) + big.reduce((s, n) => s + n, 0) + breakers.reduce((s, b) => s + b.data.length, 0),
    framesPerSecond: Math.round(cases.length / (inSessionMs / 1000)),
    awsCalls: sim.stats.snapshot().total.calls,
    jobsAccepted: 0,
    reconnects: breakers.length,
    // The dedupe table keeps every rejection (bounded at 100,000 answers and 64 MB).
    memoryMiB: { before: memBefore, after: memAfter },
    durationMs: Date.now() - started,
  });
}, size(120_000, 1_800_000));
