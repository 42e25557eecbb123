// CloudTrail audit of a grant's use (LookupEvents by Username) against the simulator's
// CloudTrail: bounded, newest first, paced under 2 TPS, and never a failure of the revoke.
import { AUDIT_ACTIONS, auditEvents, type AuditQuery } from '../../src/access/audit.js';
import { makeAccessContext } from '../../src/access/context.js';
import type { AccessContext } from '../../src/access/types.js';
import { AwsClients } from '../../src/aws/clients.js';
import { CredentialBroker } from '../../src/aws/credentials.js';
import { IntegrationSession } from '../../src/aws/session.js';
import { integrationSchema } from '../../src/protocol/messages.js';
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import { awsLayer, destroyAwsLayers, useAwsEnv } from '../helpers/aws.js';
import { captureLog } from '../helpers/log.js';
import { declaredActions } from '../../src/permissions.js';

let sim: AwsSimulator;
let restore: () => void;
const own: AwsClients[] = [];

function integration() {
  const w = sim.world;
  return {
    roleArn: `arn:aws:iam::${w.organization!.managementAccountId}:role/${w.connector.managementRoleName}`,
    externalId: w.connector.externalId,
    memberRoleName: w.connector.memberRoleName,
  };
}

/** A context as production builds it; quota share a little under the simulator's quota. */
function context(opts: { signal?: AbortSignal } = {}): AccessContext & { logs: ReturnType<typeof captureLog> } {
  const layer = awsLayer(integration(), { quotaShare: 0.9 });
  return Object.assign(makeAccessContext({ session: layer.session, integration: layer.integration, log: layer.logs.log, ...(opts.signal && { signal: opts.signal }) }), { logs: layer.logs });
}

/** A context whose SDK gives up after `maxAttempts` (throttling tests). */
function contextWithAttempts(maxAttempts: number): AccessContext {
  const logs = captureLog('debug');
  const clients = new AwsClients({ declaredActions: declaredActions(), userAgent: 'access-connector/test', quotaShare: 0.9, log: logs.log, maxAttempts });
  own.push(clients);
  const parsed = integrationSchema.parse({ id: 'int-audit', name: 'audit', type: 'aws-organization', region: 'us-east-1', ...integration() });
  const broker = new CredentialBroker({ clients, connectorId: 'conn-test', log: logs.log, region: parsed.region });
  return makeAccessContext({ session: new IntegrationSession(parsed, clients, broker), integration: parsed, log: logs.log });
}

const T0 = Date.now() - 3_600_000;
const at = (s: number) => T0 + s * 1000;
const query = (over: Partial<AuditQuery> = {}): AuditQuery => ({
  accountId: '333333333301', region: 'us-east-1', username: 'alice', start: new Date(at(0)), end: new Date(Date.now() + 60_000), ...over,
});
function addEvents(accountId: string, username: string, n: number, opts: { region?: string; from?: number; name?: string } = {}): void {
  for (let i = 0; i < n; i++) {
    sim.admin.addTrailEvent({ accountId, region: opts.region ?? 'us-east-1', username, eventName: `${opts.name ?? 'Op'}${i}`, eventSource: 's3.amazonaws.com', eventTime: at((opts.from ?? 10) + i) });
  }
}
const lookups = () => {
  const c = sim.stats.snapshot().byOperation['cloudtrail:LookupEvents'];
  return { answered: c ? c.calls - c.throttled : 0, throttled: c?.throttled ?? 0 };
};

beforeAll(async () => {
  sim = await startAwsSimulator({ world: 'demo' });
  restore = useAwsEnv(sim.env);
  // 333333333301: alice did 5 things in the window, one before it, one in another region; bob did 3.
  addEvents('333333333301', 'alice', 5);
  sim.admin.addTrailEvent({ accountId: '333333333301', region: 'us-east-1', username: 'alice', eventName: 'TooEarly', eventTime: at(-100) });
  sim.admin.addTrailEvent({ accountId: '333333333301', region: 'eu-west-1', username: 'alice', eventName: 'ElsewhereOp', eventTime: at(20) });
  addEvents('333333333301', 'bob', 3, { name: 'BobOp' });
});
afterAll(async () => {
  destroyAwsLayers();
  for (const c of own.splice(0)) c.destroy();
  restore();
  await sim.close();
});

describe('auditEvents', () => {
  test('declares exactly the action it calls', () => {
    expect(AUDIT_ACTIONS).toEqual(['cloudtrail:LookupEvents']);
  });

  test("returns the user's events in the window and region, newest first, with nothing from the raw event", async () => {
    const r = await auditEvents(context(), query());
    expect(r.error).toBeUndefined();
    expect(r.truncated).toBe(false);
    expect(r.events.map((e) => e.eventName)).toEqual(['Op4', 'Op3', 'Op2', 'Op1', 'Op0']);
    expect(r.events[0]).toEqual({ time: new Date(at(14)).toISOString(), eventName: 'Op4', eventSource: 's3.amazonaws.com', accountId: '333333333301', region: 'us-east-1' });
    const eu = await auditEvents(context(), query({ region: 'eu-west-1' }));
    expect(eu.events.map((e) => e.eventName)).toEqual(['ElsewhereOp']);
    const window = await auditEvents(context(), query({ start: new Date(at(11)), end: new Date(at(13)) }));
    expect(window.events.map((e) => e.eventName)).toEqual(['Op3', 'Op2', 'Op1']);
  });

  test('a user name with policy-document and shell characters is a literal lookup value', async () => {
    const odd = 'x"}]},{"Effect":"Allow"$(id)`../..`';
    sim.admin.addTrailEvent({ accountId: '333333333301', region: 'us-east-1', username: odd, eventName: 'OddOp', eventTime: at(30) });
    const r = await auditEvents(context(), query({ username: odd }));
    expect(r.events.map((e) => e.eventName)).toEqual(['OddOp']);
    expect((await auditEvents(context(), query({ username: 'x"}]' }))).events).toEqual([]);
  });

  test('is bounded by max (default 50) and says when more exist, with one extra call at most', async () => {
    addEvents('444444444401', 'carol', 51);
    sim.stats.reset();
    const r = await auditEvents(context(), query({ accountId: '444444444401', username: 'carol' }));
    expect(r.events).toHaveLength(50);
    expect(r.events[0]!.eventName).toBe('Op50');
    expect(r.truncated).toBe(true);
    expect(lookups().answered).toBe(2);

    sim.stats.reset();
    const exact = await auditEvents(context(), query({ accountId: '444444444401', username: 'carol', max: 51 }));
    expect(exact.events).toHaveLength(51);
    expect(exact.truncated).toBe(false);
    expect(lookups().answered).toBe(2);

    const few = await auditEvents(context(), query({ accountId: '444444444401', username: 'carol', max: 3 }));
    expect(few.events.map((e) => e.eventName)).toEqual(['Op50', 'Op49', 'Op48']);
    expect(few.truncated).toBe(true);
  });

  test('pages under the 2 TPS LookupEvents quota without being throttled', async () => {
    addEvents('444444444402', 'dave', 260);
    sim.stats.reset();
    const started = Date.now();
    const r = await auditEvents(context(), query({ accountId: '444444444402', username: 'dave', max: 250 }));
    expect(r.events).toHaveLength(250);
    expect(r.truncated).toBe(true);
    const { answered, throttled } = lookups();
    expect(answered).toBe(6);
    expect(throttled).toBe(0);
    // Six calls at 1.8 per second with a burst of 1.8: at least four waits of ~0.55 s.
    expect(Date.now() - started).toBeGreaterThanOrEqual(2000);
  });

  test('access denied to LookupEvents gives an error code and no events, never a throw', async () => {
    const role = { accountId: '333333333302', roleName: sim.world.connector.memberRoleName };
    const perms = sim.admin.getRole(role)!['permissions'] as { allow: string[] };
    sim.admin.setRolePermissions({ ...role, allow: perms.allow, deny: ['cloudtrail:LookupEvents'] });
    try {
      const ctx = context();
      const r = await auditEvents(ctx, query({ accountId: '333333333302' }));
      expect(r).toEqual({ events: [], truncated: false, error: 'AWS_ACCESS_DENIED' });
      expect(ctx.logs.entries().some((e) => e['code'] === 'AWS_ACCESS_DENIED' && String(e['msg']).startsWith('audit skipped'))).toBe(true);
    } finally {
      sim.admin.setRolePermissions({ ...role, allow: perms.allow });
    }
  });

  test('a member role that cannot be assumed gives an error code', async () => {
    sim.faults.denyAccount('333333333303');
    try {
      const r = await auditEvents(context(), query({ accountId: '333333333303' }));
      expect(r.events).toEqual([]);
      expect(r.error).toBe('ASSUME_ROLE_DENIED');
    } finally {
      sim.faults.allowAccount('333333333303');
    }
  });

  test('throttling that outlasts the retries gives AWS_THROTTLED, not a throw', async () => {
    sim.faults.throttleStorm({ service: 'cloudtrail', operation: 'LookupEvents' });
    try {
      const r = await auditEvents(contextWithAttempts(2), query());
      expect(r).toEqual({ events: [], truncated: false, error: 'AWS_THROTTLED' });
    } finally {
      sim.faults.clear();
    }
  });

  test('a cancelled job gives JOB_CANCELLED, not a throw', async () => {
    const ac = new AbortController();
    ac.abort();
    const r = await auditEvents(context({ signal: ac.signal }), query());
    expect(r).toEqual({ events: [], truncated: false, error: 'JOB_CANCELLED' });
  });

  test.each([
    ['a path in the account id', { accountId: '../333333333301' }],
    ['an 11-digit account id', { accountId: '33333333330' }],
    ['a shell command in the region', { region: 'us-east-1; rm -rf /' }],
    ['an empty user name', { username: '' }],
    ['a user name with a newline', { username: 'alice\nbob' }],
    ['a huge user name', { username: 'a'.repeat(5000) }],
    ['start after end', { start: new Date(at(20)), end: new Date(at(10)) }],
    ['an invalid date', { start: new Date('nope') }],
    ['max 0', { max: 0 }],
    ['max above 1000', { max: 1001 }],
    ['a fractional max', { max: 2.5 }],
  ])('%s is refused before any AWS call', async (_name, over) => {
    sim.stats.reset();
    const r = await auditEvents(context(), query(over as Partial<AuditQuery>));
    expect(r).toEqual({ events: [], truncated: false, error: 'JOB_PARAMS_INVALID' });
    expect(sim.stats.snapshot().total.calls).toBe(0);
  });
});
