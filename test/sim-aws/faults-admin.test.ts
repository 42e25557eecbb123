import { STSClient, GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { IAMClient, ListRolesCommand } from '@aws-sdk/client-iam';
import { OrganizationsClient, ListRootsCommand } from '@aws-sdk/client-organizations';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import { cfg, failure, management, member, memberRoleArn, assume } from './helpers.js';

describe('faults, stats and the HTTP admin API', () => {
  let sim: AwsSimulator;
  beforeAll(async () => { sim = await startAwsSimulator({ quotas: false }); });
  afterEach(() => sim.faults.clear());
  afterAll(() => sim.close());

  const post = async (path: string, body: unknown = {}) => {
    const r = await fetch(`${sim.url}${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    expect(r.status).toBe(200);
    return r.json() as Promise<unknown>;
  };

  test('5xx: InternalFailure / ServiceUnavailable reach the SDK as server faults; the SDK retries them', async () => {
    sim.faults.serverErrors({ service: 'organizations', code: 'ServiceUnavailable' });
    const orgs = new OrganizationsClient(cfg(sim, await management(sim)));
    const e = await failure(orgs.send(new ListRootsCommand({})));
    expect(e.name).toBe('ServiceUnavailable');
    expect(e.$metadata?.httpStatusCode).toBe(503);
    expect((e as unknown as { $fault: string }).$fault).toBe('server');
    sim.faults.clear();
    sim.faults.serverErrors({ service: 'iam', code: 'InternalFailure', fraction: 0.5 });
    sim.faults.rand = (() => { let i = 0; return () => (i++ % 2 === 0 ? 0.1 : 0.9); })(); // fail, pass, fail, …
    const iam = new IAMClient({ ...cfg(sim, await member(sim, '333333333301')), maxAttempts: 3 });
    const r = await iam.send(new ListRolesCommand({}));
    expect(r.$metadata.attempts).toBe(2);
    sim.faults.rand = Math.random;
  });

  test('timeouts: held requests outlast a client timeout', async () => {
    sim.faults.timeouts({ service: 'sts', holdMs: 400 });
    const sts = new STSClient({ ...cfg(sim), requestHandler: { requestTimeout: 100, throwOnRequestTimeout: true } });
    const e = await failure(sts.send(new GetCallerIdentityCommand({})));
    expect(e.name).toMatch(/TimeoutError|RequestTimeout/);
  });

  test('lost responses: the call is carried out, its answer is a 500, and the SDK\'s resend meets its own write', async () => {
    sim.faults.lostResponses({ service: 'dynamodb', operation: 'CreateTable', count: 1 });
    const ddb = new DynamoDBClient({ ...cfg(sim), maxAttempts: 3 });
    const e = await failure(ddb.send(new CreateTableCommand({
      TableName: 'lost-answer', BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
    })));
    expect(e.name).toBe('ResourceInUseException');
    expect((await ddb.send(new DescribeTableCommand({ TableName: 'lost-answer' }))).Table?.TableStatus).toBe('ACTIVE');
    expect(sim.stats.snapshot().byOperation['dynamodb:CreateTable']).toMatchObject({ calls: 2, errors: 2 });
  });

  test('gate: the next matching call waits until released; others pass', async () => {
    const gate = sim.faults.gate({ service: 'sts', operation: 'GetCallerIdentity' });
    const sts = new STSClient(cfg(sim));
    let done = false;
    const held = sts.send(new GetCallerIdentityCommand({})).then((r) => { done = true; return r; });
    await gate.reached;
    // A second call is not stopped: a gate stops one call.
    await expect(sts.send(new GetCallerIdentityCommand({}))).resolves.toMatchObject({ Account: expect.any(String) });
    expect(done).toBe(false);
    gate.release();
    await expect(held).resolves.toMatchObject({ Account: expect.any(String) });
  });

  test('latency is added per call and divided by the time scale', async () => {
    sim.faults.setLatency(60);
    const sts = new STSClient(cfg(sim));
    let t = Date.now();
    await sts.send(new GetCallerIdentityCommand({}));
    expect(Date.now() - t).toBeGreaterThanOrEqual(55);
    sim.faults.setLatency(0);
    const fast = await startAwsSimulator({ quotas: false, latencyMs: 300, timeScale: 10 });
    try {
      // 300 ms at k = 10 is 30 ms a call. Undivided, every call would take 300 ms or more;
      // the fastest of five (after a first call that loads the client) shows it is not,
      // however slow a loaded machine makes some of them.
      const client = new STSClient(cfg(fast));
      await client.send(new GetCallerIdentityCommand({}));
      const took: number[] = [];
      for (let i = 0; i < 5; i++) {
        t = Date.now();
        await client.send(new GetCallerIdentityCommand({}));
        took.push(Date.now() - t);
      }
      expect(Math.min(...took)).toBeGreaterThanOrEqual(25);
      expect(Math.min(...took)).toBeLessThan(250);
    } finally { await fast.close(); }
  });

  test('denied account: AssumeRole into it and calls in it are AccessDenied', async () => {
    const m = await management(sim);
    const before = await member(sim, '444444444403', m);
    sim.faults.denyAccount('444444444403');
    expect((await failure(assume(sim, m, memberRoleArn('444444444403')))).name).toBe('AccessDenied');
    expect((await failure(new IAMClient(cfg(sim, before)).send(new ListRolesCommand({})))).name).toBe('AccessDenied');
    sim.faults.allowAccount('444444444403');
    await expect(member(sim, '444444444403', m)).resolves.toBeDefined();
  });

  test('HTTP admin: throttle storm via /__sim/faults, stats via /__sim/stats, admin methods, ground truth', async () => {
    await post('/__sim/stats/reset');
    await post('/__sim/faults/throttleStorm', { service: 'sts', durationMs: 60_000 });
    const sts = new STSClient(cfg(sim));
    expect((await failure(sts.send(new GetCallerIdentityCommand({})))).name).toBe('Throttling');
    await post('/__sim/faults/clear');
    await sts.send(new GetCallerIdentityCommand({}));
    const stats = await (await fetch(`${sim.url}/__sim/stats`)).json() as { byOperation: Record<string, { calls: number; throttled: number }>; byAccount: Record<string, { calls: number }> };
    expect(stats.byOperation['sts:GetCallerIdentity']).toEqual({ calls: 2, throttled: 1, errors: 0 });
    expect(stats.byAccount['999999999999']?.calls).toBe(2);
    expect(sim.stats.snapshot().total.calls).toBe(2);
    const summary = await post('/__sim/admin/summary') as { accounts: number; managementAccountId: string };
    expect(summary).toMatchObject({ accounts: 21, managementAccountId: '111111111111' });
    const role = await (await fetch(`${sim.url}/__sim/admin/getRole?accountId=333333333301&roleName=AccessConnectorMember`)).json() as { trustPolicy: string };
    expect(JSON.parse(role.trustPolicy).Statement[0].Principal.AWS).toBe('arn:aws:iam::111111111111:role/AccessConnectorManagement');
    const bad = await fetch(`${sim.url}/__sim/admin/nope`, { method: 'POST' });
    expect(bad.status).toBe(400);
    const gt = await post('/__sim/ground-truth', { resourceTypes: ['sso'] }) as { counts: Record<string, number> };
    expect(gt.counts['sso.user']).toBe(10);
    await post('/__sim/faults/expireSessionsNow');
    await post('/__sim/faults/denyAccount', { accountId: '222222222222' });
    expect((await (await fetch(`${sim.url}/__sim/faults`)).json() as { deniedAccounts: string[] }).deniedAccounts).toEqual(['222222222222']);
  });

  test('unknown operation and missing signature are answered as AWS does', async () => {
    const r = await fetch(`${sim.url}/`, { method: 'POST', headers: { 'x-amz-target': 'AWSOrganizationsV20161128.ListRoots', 'content-type': 'application/x-amz-json-1.1' }, body: '{}' });
    expect(r.status).toBe(400);
    expect((await r.json() as { __type: string }).__type).toBe('MissingAuthenticationTokenException');
  });
});
