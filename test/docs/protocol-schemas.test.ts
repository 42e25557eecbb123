// The published contract (docs/protocol/*.schema.json, docs/protocol.md) against what the
// connector and the reference control plane really send: a control plane built from the
// files must accept every frame the connector produces, and the samples in the protocol
// doc must be frames the connector accepts.
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { inboundSchemas, outboundSchemas } from '../../src/protocol/messages.js';
import { accessParamsSchema } from '../../src/access/params.js';
import { policySchema } from '../../src/policy/schema.js';
import { syncParams } from '../../src/sync/run-sync.js';
import { parseJobKeys, signingInput, verifyJobSignature } from '../../src/protocol/signature.js';
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import { demoIntegration } from '../sim/aws/worlds/demo.js';
import { ReferenceControlPlane } from '../sim/control-plane/server.js';
import { ConnectorProcess, connectorEnv } from '../helpers/process.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { validate } from '../helpers/json-schema.js';
import { fencedBlocks } from '../helpers/markdown.js';

function schemaFile(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(resolve(REPO_ROOT, 'docs/protocol', `${name}.schema.json`), 'utf8')) as Record<string, unknown>;
}
const frameSchema = (type: string) => schemaFile(`frames/${type}`);

describe('the samples in docs/protocol.md', () => {
  const blocks = fencedBlocks(readFileSync(resolve(REPO_ROOT, 'docs/protocol.md'), 'utf8')).filter((b) => b.lang === 'json');

  test('every JSON block names the schema it follows, and follows it', () => {
    expect(blocks.length).toBeGreaterThan(10);
    const seen = new Set<string>();
    for (const b of blocks) {
      const name = /\bschema=(\S+)/.exec(b.info)?.[1];
      expect({ line: b.line, name }).toEqual({ line: b.line, name: expect.any(String) });
      seen.add(name!);
      const value = JSON.parse(b.body) as unknown;
      expect({ line: b.line, errors: validate(schemaFile(name!), value) }).toEqual({ line: b.line, errors: [] });
    }
    // Every frame type has a sample.
    for (const type of [...Object.keys(inboundSchemas), ...Object.keys(outboundSchemas)]) expect(seen).toContain(`frames/${type}`);
  });

  test('the connector parses each sample as the schema says (the files and the code agree)', () => {
    for (const b of blocks) {
      const name = /\bschema=(\S+)/.exec(b.info)![1]!;
      const value = JSON.parse(b.body) as Record<string, unknown>;
      const type = name.startsWith('frames/') ? name.slice('frames/'.length) : undefined;
      const zod = type !== undefined
        ? ((inboundSchemas as Record<string, { safeParse(v: unknown): { success: boolean } }>)[type] ?? (outboundSchemas as Record<string, { safeParse(v: unknown): { success: boolean } }>)[type])
        : ({ 'params/grant': accessParamsSchema, 'params/revoke': accessParamsSchema, 'params/sync': syncParams, policy: policySchema } as Record<string, { safeParse(v: unknown): { success: boolean } }>)[name];
      if (zod) expect({ line: b.line, ok: zod.safeParse(value).success }).toEqual({ line: b.line, ok: true });
    }
  });
});

test('the signed sample verifies with the test key, over exactly the bytes the doc shows', () => {
  const doc = fencedBlocks(readFileSync(resolve(REPO_ROOT, 'docs/protocol.md'), 'utf8'));
  const signed = doc.filter((b) => /\bsigned-by=/.test(b.info));
  expect(signed.length).toBeGreaterThan(0);
  for (const b of signed) {
    const vectors = JSON.parse(readFileSync(resolve(REPO_ROOT, /\bsigned-by=(\S+)/.exec(b.info)![1]!), 'utf8')) as { publicKeyPem: string };
    const frame = JSON.parse(b.body) as Record<string, unknown>;
    const now = Date.parse(String(frame['notAfter'])) - 60_000;
    expect(verifyJobSignature(frame, parseJobKeys(vectors.publicKeyPem), String(frame['connectorId']), now)).toMatchObject({ ok: true });
    // Any change to a signed member breaks it.
    expect(verifyJobSignature({ ...frame, jobType: 'grant' }, parseJobKeys(vectors.publicKeyPem), String(frame['connectorId']), now)).toMatchObject({ ok: false });
    expect(doc.find((x) => x.info === 'text signing-input')?.body).toBe(signingInput(frame));
  }
});

describe('references to docs/protocol.md', () => {
  const headings = new Set(
    readFileSync(resolve(REPO_ROOT, 'docs/protocol.md'), 'utf8')
      .split('\n')
      .filter((l) => /^#{2,4} /.test(l))
      .map((l) => l.replace(/^#+ /, '')),
  );
  const slug = (h: string) => h.toLowerCase().replace(/[^\w\s-]/g, '').replace(/\s/g, '-');
  const files = (dir: string): string[] =>
    readdirSync(resolve(REPO_ROOT, dir), { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? files(join(dir, e.name)) : /\.(ts|md)$/.test(e.name) ? [join(dir, e.name)] : [],
    );
  const sources = ['README.md', 'CONTRIBUTING.md', ...files('src'), ...files('docs'), ...files('test')].map((f) => ({ f, text: readFileSync(resolve(REPO_ROOT, f), 'utf8') }));

  test('every section a comment or a doc names exists', () => {
    const missing: string[] = [];
    for (const { f, text } of sources) {
      // Code and prose name sections as docs/protocol.md followed by one or more quoted names.
      for (const m of text.matchAll(/docs\/protocol\.md,? ("[^"\n]+"(?:(?:,| and) "[^"\n]+")*)/g)) {
        for (const name of m[1]!.matchAll(/"([^"]+)"/g)) if (!headings.has(name[1]!)) missing.push(`${f}: "${name[1]}"`);
      }
      for (const m of text.matchAll(/\]\((?:docs\/)?protocol\.md#([\w-]+)\)/g)) {
        if (![...headings].some((h) => slug(h) === m[1])) missing.push(`${f}: #${m[1]}`);
      }
    }
    expect(missing).toEqual([]);
  });

  test('the docs and README no longer point to numbered sections of a protocol document', () => {
    const numbered = sources.filter(({ f }) => !f.startsWith('src/') && !f.startsWith('test/')).filter(({ text }) => /protocol(\.md)? §/.test(text));
    expect(numbered.map(({ f }) => f)).toEqual([]);
  });
});

describe('the schemas refuse what the connector refuses', () => {
  const okJob = {
    type: 'job', id: 'f1', jobId: 'j-1', jobType: 'grant', notAfter: '2030-01-01T00:00:00Z', integration: demoIntegration(),
    params: { grantId: 'g-1', accessKind: 'sso.groupMembership', principal: { type: 'user', id: '9067b0a1d2-11111111-2222-3333-4444-555555555555' }, target: { groupId: '9067b0a1d2-11111111-2222-3333-4444-666666666666' } },
  };
  const cases: Array<[string, string, unknown, { safeParse(v: unknown): { success: boolean } }]> = [
    ['a valid job (control)', 'frames/job', okJob, inboundSchemas.job],
    ['a jobId with a space', 'frames/job', { ...okJob, jobId: 'j 1' }, inboundSchemas.job],
    ['an integration with a bad region', 'frames/job', { ...okJob, integration: demoIntegration({ region: 'mars' }) }, inboundSchemas.job],
    ['welcome with heartbeatSeconds 2', 'frames/welcome', { type: 'welcome', id: 'w', sessionId: 's', heartbeatSeconds: 2 }, inboundSchemas.welcome],
    ['hello without capabilities', 'frames/hello', { type: 'hello', id: 'h', connectorId: 'c', version: '1', protocol: 1, maxConcurrentJobs: 1, running: [] }, outboundSchemas.hello],
    ['a rejection with an unknown reason', 'frames/job.rejected', { type: 'job.rejected', id: 'r', jobId: 'j', reason: 'tired', message: '' }, outboundSchemas['job.rejected']],
    ['grant params: the target of another kind', 'params/grant', { ...okJob.params, target: { accountId: '333333333301' } }, accessParamsSchema],
    ['grant params: a principal type the kind does not take', 'params/grant', { ...okJob.params, principal: { type: 'role', id: 'arn:aws:iam::333333333301:role/x' } }, accessParamsSchema],
    ['sync params: an account id of 11 digits', 'params/sync', { mode: 'full', accountIds: ['33333333330'] }, syncParams],
    ['policy: a misspelt key', 'policy', { version: 1, readonly: true }, policySchema],
    ['policy: version 2', 'policy', { version: 2 }, policySchema],
  ];
  test.each(cases)('%s', (what, name, value, zod) => {
    const valid = what.endsWith('(control)');
    expect(validate(schemaFile(name), value).length === 0).toBe(valid);
    expect(zod.safeParse(value).success).toBe(valid);
  });
});

describe('real frames against the published schemas', () => {
  let sim: AwsSimulator;
  let cp: ReferenceControlPlane;
  let c: ConnectorProcess;

  beforeAll(async () => {
    sim = await startAwsSimulator({ world: 'demo', quotas: false, sso: { assignmentDelayMs: 50 } });
    cp = await ReferenceControlPlane.start({ tokens: ['schema-token'] });
  });
  afterAll(async () => {
    await c?.stop();
    await cp.close();
    await sim.close();
  });

  test('every frame the connector and the reference control plane exchange follows its schema', async () => {
    c = new ConnectorProcess({ ...connectorEnv(cp.url, { CONNECTOR_TOKEN: 'schema-token', LEDGER_TABLE: 'access-connector-ledger' }), ...sim.env });
    await cp.waitForSession(15_000, (s) => s.connectorId === 'conn-it');
    const integration = demoIntegration({ ssoPortalUrl: 'https://d-1234567890.awsapps.com/start' });
    const sso = sim.world.sso!;
    const user = [...sso.users.values()].find((u) => u.UserName === 'erin@example.com')!;
    const ps = [...sso.permissionSets.values()].find((p) => p.name === 'ReadOnly')!;
    const grant = { grantId: 'schema-1', accessKind: 'sso.accountAssignment', principal: { type: 'user', id: user.UserId, userName: user.UserName }, target: { accountId: '333333333302', permissionSetArn: ps.arn } };

    const check = cp.sendJob({ jobType: 'check', integration });
    const sync = cp.sendJob({ jobType: 'sync', integration: { ...integration, resourceTypes: ['iam'] }, params: { mode: 'full', accountIds: ['333333333301'] } });
    const unsupported = cp.sendJob({ jobType: 'audit-export', integration });
    const invalid = cp.sendJob({ jobType: 'grant', integration, params: { ...grant, grantId: 'not valid' } });
    expect((await cp.waitForResult(check.jobId, 30_000)).status).toBe('succeeded');
    expect((await cp.waitForResult(sync.jobId, 30_000)).status).toBe('succeeded');
    expect((await cp.waitForResult(cp.sendJob({ jobType: 'grant', integration, params: grant }).jobId, 30_000)).status).toBe('succeeded');
    expect((await cp.waitForResult(cp.sendJob({ jobType: 'revoke', integration, params: grant }).jobId, 30_000)).status).toBe('succeeded');
    cp.cancelJob(check.jobId);
    cp.sendRaw('{"type":"ack","id":"a-1","ids":"not a list"}');
    await cp.waitFor((f) => f.frame?.['type'] === 'error');
    for (const j of [unsupported, invalid]) await cp.waitFor((f) => f.frame?.['type'] === 'job.rejected' && f.frame['jobId'] === j.jobId);

    const out = cp.received.map((r) => r.frame!);
    const inbound = cp.sent.map((s) => s.frame);
    expect(new Set(out.map((f) => f['type']))).toEqual(new Set(['hello', 'job.accepted', 'job.rejected', 'job.progress', 'sync.batch', 'job.result', 'error']));
    expect(new Set(inbound.map((f) => f['type']))).toEqual(new Set(['welcome', 'job', 'job.cancel', 'ack']));
    const problems: unknown[] = [];
    for (const f of [...out, ...inbound]) {
      const errors = validate(frameSchema(String(f['type'])), f);
      if (errors.length > 0) problems.push({ type: f['type'], errors });
      // A schema that accepted anything would pass the line above: every required field is required.
      const required = (frameSchema(String(f['type']))['required'] as string[]) ?? [];
      for (const r of required) {
        const { [r]: _dropped, ...rest } = f;
        if (validate(frameSchema(String(f['type'])), rest).length === 0) problems.push({ type: f['type'], acceptedWithout: r });
      }
    }
    // The params and integration of every job follow the job type's own schema.
    for (const f of inbound.filter((x) => x['type'] === 'job' && x['jobType'] !== 'audit-export' && x['jobId'] !== invalid.jobId)) {
      const errors = [...validate(schemaFile(`params/${String(f['jobType'])}`), f['params'] ?? {}), ...validate(schemaFile('integration'), f['integration'])];
      if (errors.length > 0) problems.push({ jobType: f['jobType'], errors });
    }
    expect(validate(schemaFile('params/grant'), (inbound.find((x) => x['jobId'] === invalid.jobId)!)['params'])).not.toEqual([]);
    for (const b of out.filter((x) => x['type'] === 'sync.batch')) {
      for (const e of b['entities'] as unknown[]) {
        const errors = validate(schemaFile('entity'), e);
        if (errors.length > 0) problems.push({ entity: e, errors });
      }
    }
    expect(problems).toEqual([]);
  });
});
