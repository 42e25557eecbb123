// The grant ledger against the simulator's DynamoDB: conditional writes, append-only
// history, leases shared by several "replicas" (Ledger instances with other owners).
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Ledger, LedgerRace, type LedgerOptions } from '../../src/access/ledger.js';
import { integrationSchema } from '../../src/protocol/messages.js';
import { ConnectorError } from '../../src/errors.js';
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import { awsLayer, destroyAwsLayers, useAwsEnv } from '../helpers/aws.js';

const TABLE = 'access-connector-ledger';
const integration = integrationSchema.parse({ id: 'int-1', name: 'demo', type: 'aws-organization', region: 'us-east-1', roleArn: 'arn:aws:iam::111111111111:role/AccessConnectorManagement' });
const request = { grantId: 'g-1', accessKind: 'sso.accountAssignment' as const, principal: { type: 'user' as const, id: 'u-1' }, target: { accountId: '222222222222' } };

describe('grant ledger (DynamoDB)', () => {
  let sim: AwsSimulator;
  let restore: () => void;
  let clock = Date.parse('2026-11-23T12:00:00Z');
  const ledgerAs = (owner: string, table = TABLE, over: Partial<LedgerOptions> = {}) => {
    const layer = awsLayer({});
    const client = layer.clients.get(DynamoDBClient, { region: 'us-east-1', accountId: 'self', credentials: layer.broker.base() });
    // Waiting advances the test's clock by the time waited, so lease expiry is deterministic.
    return new Ledger({ client, table, owner, now: () => clock, monotonic: () => clock, sleep: (ms) => new Promise((r) => setTimeout(() => { clock += ms; r(); }, Math.min(ms, 20))), ...over });
  };
  const leaseItem = (key: string) => sim.admin.ddbItems({ accountId: '999999999999', region: 'us-east-1', table: TABLE }).filter((i) => JSON.stringify(i).includes(`lock#${key}`));
  beforeAll(async () => {
    sim = await startAwsSimulator({ world: 'demo' });
    restore = useAwsEnv(sim.env);
  });
  afterEach(() => sim.faults.clear());
  afterAll(async () => {
    destroyAwsLayers();
    restore();
    await sim.close();
  });

  test('a grant id is recorded once: the second create returns the first record untouched', async () => {
    const a = ledgerAs('a');
    const base = { grantId: 'g-1', kind: 'sso.accountAssignment', accessKey: 'k1', lockKey: 'k1', fingerprint: 'f1', request, integration, state: 'pending' as const, preExisting: false };
    const first = await a.createGrant(base);
    expect(first.created).toBe(true);
    const second = await ledgerAs('b').createGrant({ ...base, fingerprint: 'other', state: 'granted' });
    expect(second.created).toBe(false);
    expect(second.record).toMatchObject({ fingerprint: 'f1', state: 'pending', version: 1, integration: { id: 'int-1' } });
  });

  test('updates are conditional on the version: a stale writer loses with LedgerRace and changes nothing', async () => {
    const a = ledgerAs('a');
    const g = (await a.getGrant('g-1'))!;
    const next = await a.updateGrant(g, { state: 'granted' });
    expect(next.version).toBe(g.version + 1);
    await expect(ledgerAs('b').updateGrant(g, { state: 'revoked' })).rejects.toBeInstanceOf(LedgerRace);
    expect((await a.getGrant('g-1'))!.state).toBe('granted');
  });

  test('history is append-only and ordered: two events in the same millisecond are both kept', async () => {
    const a = ledgerAs('a');
    await a.appendEvent('g-1', 'recorded', { jobId: 'j1' });
    await a.appendEvent('g-1', 'granted', { jobId: 'j1', detail: 'x'.repeat(5000) });
    const h = await a.history('g-1');
    expect(h.map((e) => e.event)).toEqual(expect.arrayContaining(['recorded', 'granted']));
    expect(h).toHaveLength(2);
    expect(h.find((e) => e.event === 'granted')!.detail).toHaveLength(2000);
  });

  test('access records: created once, replaced only at the version read, deleted only at that version', async () => {
    const a = ledgerAs('a');
    const rec = { accessKey: 'k1', kind: 'sso.accountAssignment', fingerprint: 'f1', holders: ['g-1', 'g-1'], preExisting: false, kept: { x: 1 }, request, integration };
    const made = await a.putAccess(undefined, rec);
    expect(made.holders).toEqual(['g-1']);
    await expect(ledgerAs('b').putAccess(undefined, rec)).rejects.toBeInstanceOf(LedgerRace);
    const two = await a.putAccess(made, { ...made, holders: ['g-1', 'g-2'] });
    await expect(a.deleteAccess(made)).rejects.toBeInstanceOf(LedgerRace);
    expect((await a.getAccess('k1'))!.holders).toEqual(['g-1', 'g-2']);
    await a.deleteAccess(two);
    expect(await a.getAccess('k1')).toBeUndefined();
  });

  test('the lock serializes two replicas: never two holders at once, both run', async () => {
    const replicas = [ledgerAs('r1'), ledgerAs('r2'), ledgerAs('r3')];
    let inside = 0;
    let most = 0;
    const ran: string[] = [];
    await Promise.all(replicas.flatMap((l, i) => [0, 1].map(async (n) => l.withLock('role#1', async () => {
      inside++;
      most = Math.max(most, inside);
      await new Promise((r) => setTimeout(r, 30));
      ran.push(`${i}.${n}`);
      inside--;
    }))));
    expect(most).toBe(1);
    expect(ran).toHaveLength(6);
    // Released: nothing left behind.
    expect(leaseItem('role#1')).toEqual([]);
  });

  test('a lease whose holder died is taken over once it expires; a live one makes the waiter give up with LEDGER_BUSY', async () => {
    const dead = ledgerAs('dead');
    let release!: () => void;
    const held = dead.withLock('role#2', () => new Promise<void>((r) => (release = r)));
    await new Promise((r) => setTimeout(r, 50));
    const waiter = ledgerAs('w');
    const started = clock;
    // The waiter gives up after 90 s of (simulated) waiting while the 120 s lease is live.
    await expect(waiter.withLock('role#2', async () => 'never')).rejects.toMatchObject({ code: 'LEDGER_BUSY' });
    expect(clock - started).toBeGreaterThanOrEqual(90_000);
    expect(clock - started).toBeLessThan(120_000);
    // Asking again, the lease (never renewed: its holder "died") expires and is taken.
    await expect(waiter.withLock('role#2', async () => 'taken')).resolves.toBe('taken');
    expect(clock - started).toBeGreaterThanOrEqual(120_000);
    release();
    await held;
  });

  test('a replica whose wall clock runs 125 s ahead never takes over a live lease', async () => {
    // Guards against: lease expiry judged by the acquiring replica's own wall clock (two holders under clock skew).
    let release!: () => void;
    let inside = 0;
    let most = 0;
    const enter = async <T>(v: T, wait?: Promise<void>) => { inside++; most = Math.max(most, inside); await wait; inside--; return v; };
    const held = ledgerAs('on-time').withLock('role#skew', () => enter('first', new Promise<void>((r) => (release = r))));
    while (leaseItem('role#skew').length === 0) await new Promise((r) => setTimeout(r, 5));
    const ahead = ledgerAs('ahead', TABLE, { now: () => clock + 125_000 });
    await expect(ahead.withLock('role#skew', () => enter('second'))).rejects.toMatchObject({ code: 'LEDGER_BUSY' });
    expect(most).toBe(1);
    release();
    await expect(held).resolves.toBe('first');
  });

  test('a live holder\'s renewals keep its lease: a waiter asking again and again never takes it over', async () => {
    // Guards against: a waiter taking over a lease whose holder is alive and renewing.
    let release!: () => void;
    const live = ledgerAs('live', TABLE, { renewEveryMs: 5 });
    const held = live.withLock('role#live', () => new Promise<string>((r) => (release = () => r('kept'))));
    while (leaseItem('role#live').length === 0) await new Promise((r) => setTimeout(r, 5));
    const waiter = ledgerAs('w2');
    const started = clock;
    for (let i = 0; i < 3; i++) await expect(waiter.withLock('role#live', async () => 'taken')).rejects.toMatchObject({ code: 'LEDGER_BUSY' });
    // Three waits of 90 s each: well past a TTL, and still not taken.
    expect(clock - started).toBeGreaterThan(240_000);
    release();
    await expect(held).resolves.toBe('kept');
    expect(leaseItem('role#live')).toEqual([]);
  });

  test('a lost answer to the acquire call does not lock out its own sender', async () => {
    // Guards against: the SDK resending an acquire that had landed, and the sender then waiting for its own lease.
    sim.faults.lostResponses({ service: 'dynamodb', operation: 'PutItem', count: 1 });
    const started = clock;
    await expect(ledgerAs('lost').withLock('role#lost', async () => 'mine')).resolves.toBe('mine');
    expect(clock - started).toBeLessThan(10_000);
    expect(sim.stats.snapshot().byOperation['dynamodb:PutItem']!.errors).toBeGreaterThanOrEqual(1);
    expect(leaseItem('role#lost')).toEqual([]);
  });

  test('a missing table is LEDGER_UNAVAILABLE naming the call; init creates it once', async () => {
    const l = ledgerAs('a', 'not-there');
    const err = await l.getGrant('x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectorError);
    expect(err).toMatchObject({ code: 'LEDGER_UNAVAILABLE' });
    expect((err as Error).message).toContain('GetItem');
    await expect(l.init()).resolves.toBe('created');
    await expect(l.init()).resolves.toBe('exists');
    await expect(l.getGrant('x')).resolves.toBeUndefined();
  });
});
