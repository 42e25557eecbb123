// The AWS layer (credentials, client factory, rate limiting, error codes) against the
// wire-level simulator, with the unmodified AWS SDK underneath.
import { ListRootsCommand, OrganizationsClient, ListAccountsCommand } from '@aws-sdk/client-organizations';
import { GetAccountAuthorizationDetailsCommand, IAMClient, GetRoleCommand } from '@aws-sdk/client-iam';
import { ListInstancesCommand, SSOAdminClient } from '@aws-sdk/client-sso-admin';
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import { DEMO_EXTERNAL_ID, DEMO_MANAGEMENT_ACCOUNT } from '../sim/aws/worlds/demo.js';
import { firstInLine, runInAwsScope, newAwsCallStats } from '../../src/aws/clients.js';
import { roleSessionName } from '../../src/aws/credentials.js';
import { ConnectorError } from '../../src/errors.js';
import { awsLayer, destroyAwsLayers, useAwsEnv } from '../helpers/aws.js';

const MGMT_ROLE = `arn:aws:iam::${DEMO_MANAGEMENT_ACCOUNT}:role/AccessConnectorManagement`;
let sim: AwsSimulator;
let restoreEnv: () => void;

beforeAll(async () => {
  sim = await startAwsSimulator({ world: 'demo', quotas: false });
  restoreEnv = useAwsEnv(sim.env);
});
afterAll(async () => {
  destroyAwsLayers();
  restoreEnv();
  await sim.close();
});
afterEach(() => {
  sim.faults.clear();
  sim.faults.setLatency(0);
});

async function memberAccount(): Promise<string> {
  const { session } = awsLayer({ roleArn: MGMT_ROLE, externalId: DEMO_EXTERNAL_ID });
  const org = await session.managementClient(OrganizationsClient);
  const out = await org.send(new ListAccountsCommand({}));
  return out.Accounts!.find((a) => a.Id !== DEMO_MANAGEMENT_ACCOUNT && a.State === 'ACTIVE')!.Id!;
}

describe('credentials', () => {
  test('base identity from the default chain, management role with ExternalId, member role as a second hop', async () => {
    const { session, broker } = awsLayer({ roleArn: MGMT_ROLE, externalId: DEMO_EXTERNAL_ID });
    const base = await broker.whoAmI(broker.base());
    expect(base.arn).toMatch(/^arn:aws:sts::\d{12}:assumed-role\/ConnectorTaskRole\//);
    const mgmt = await broker.whoAmI(session.management());
    expect(mgmt.arn).toBe(`arn:aws:sts::${DEMO_MANAGEMENT_ACCOUNT}:assumed-role/AccessConnectorManagement/${roleSessionName('conn-test')}`);
    const org = await session.managementClient(OrganizationsClient);
    expect((await org.send(new ListRootsCommand({}))).Roots).toHaveLength(1);
    const account = await memberAccount();
    const iam = await session.memberClient(IAMClient, account);
    const details = await iam.send(new GetAccountAuthorizationDetailsCommand({ MaxItems: 10 }));
    expect(details.RoleDetailList!.length).toBeGreaterThan(0);
  });

  test('a wrong ExternalId is ASSUME_ROLE_DENIED, naming both causes', async () => {
    const { session } = awsLayer({ roleArn: MGMT_ROLE, externalId: 'wrong-external-id' });
    const org = await session.managementClient(OrganizationsClient);
    const err = await org.send(new ListRootsCommand({})).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectorError);
    expect(err).toMatchObject({ code: 'ASSUME_ROLE_DENIED', retryable: false });
    expect((err as Error).message).toMatch(/trust policy trusts .*externalId/);
  });

  test('an account that denies the member role fails alone with ASSUME_ROLE_DENIED', async () => {
    const account = await memberAccount();
    sim.faults.denyAccount(account);
    const { session } = awsLayer({ roleArn: MGMT_ROLE, externalId: DEMO_EXTERNAL_ID });
    const iam = await session.memberClient(IAMClient, account);
    await expect(iam.send(new GetAccountAuthorizationDetailsCommand({ MaxItems: 1 }))).rejects.toMatchObject({ code: 'ASSUME_ROLE_DENIED' });
    const org = await session.managementClient(OrganizationsClient);
    await expect(org.send(new ListRootsCommand({}))).resolves.toBeDefined();
  });

  test('sessions expired early by AWS are replaced after one ExpiredToken', async () => {
    const { session, logs, clients } = awsLayer({ roleArn: MGMT_ROLE, externalId: DEMO_EXTERNAL_ID });
    const org = await session.managementClient(OrganizationsClient);
    await org.send(new ListRootsCommand({}));
    expect(sim.faults.expireSessionsNow()).toBeGreaterThan(0);
    const out = await org.send(new ListRootsCommand({}));
    expect(out.Roots).toHaveLength(1);
    expect(logs.lines.some((l) => l.includes('AWS credentials expired; refreshing'))).toBe(true);
  }, 20_000);

  test('no credentials at all is BASE_CREDENTIALS_MISSING with the fix', async () => {
    const restore = useAwsEnv({ AWS_ENDPOINT_URL: sim.url, AWS_REGION: 'us-east-1', AWS_CONFIG_FILE: '/nonexistent', AWS_SHARED_CREDENTIALS_FILE: '/nonexistent' });
    try {
      const { broker } = awsLayer({});
      await expect(broker.whoAmI(broker.base())).rejects.toMatchObject({ code: 'BASE_CREDENTIALS_MISSING', message: expect.stringMatching(/task role.*IRSA/) });
    } finally {
      restore();
      useAwsEnv(sim.env);
    }
  });

  test('member role ARNs follow the partition of the management role', async () => {
    const { session } = awsLayer({ roleArn: 'arn:aws-us-gov:iam::123456789012:role/AccessConnectorManagement', externalId: 'x1' });
    expect((await session.member('210987654321')).roleArn).toBe('arn:aws-us-gov:iam::210987654321:role/AccessConnectorMember');
    const cn = awsLayer({ roleArn: 'arn:aws-cn:iam::123456789012:role/M', memberRoleName: 'Member' });
    expect((await cn.session.member('210987654321')).roleArn).toBe('arn:aws-cn:iam::210987654321:role/Member');
  });
});

describe('client factory', () => {
  test('AWS errors get stable codes naming the call; AccessDenied names the role', async () => {
    const { session } = awsLayer({ roleArn: MGMT_ROLE, externalId: DEMO_EXTERNAL_ID });
    const iam = await session.managementClient(IAMClient);
    const err = await iam.send(new GetRoleCommand({ RoleName: 'NoSuchRoleAnywhere' })).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'AWS_NOT_FOUND', message: expect.stringMatching(/^iam\.GetRole in 111111111111\/us-east-1: NoSuchEntity/) });
  });

  test('client-side rate limiting keeps a family at the configured share of its quota', async () => {
    const { session } = awsLayer({ roleArn: MGMT_ROLE, externalId: DEMO_EXTERNAL_ID }, { quotaShare: 0.5 });
    const org = await session.managementClient(OrganizationsClient);
    const stats = newAwsCallStats();
    const t0 = Date.now();
    // Organizations: 4 TPS × 0.5 = 2 per second, burst 2: 8 calls need ≥ 3 s.
    await runInAwsScope({ stats }, () => Promise.all(Array.from({ length: 8 }, () => org.send(new ListRootsCommand({})))));
    const elapsed = Date.now() - t0;
    expect(stats.byService['Organizations']).toBe(8);
    expect(elapsed).toBeGreaterThanOrEqual(2900);
  }, 20_000);

  test('calls made firstInLine wait behind at most one of the calls already waiting for their bucket', async () => {
    const { session } = awsLayer({ roleArn: MGMT_ROLE, externalId: DEMO_EXTERNAL_ID }, { quotaShare: 0.25 });
    const org = await session.managementClient(OrganizationsClient);
    // Organizations at 1 a second, burst 1: the first call spends it (and makes the role
    // session), then four wait, then the one asked firstInLine.
    await org.send(new ListRootsCommand({}));
    const order: string[] = [];
    const call = (name: string) => org.send(new ListRootsCommand({})).then(() => order.push(name));
    const waiting = ['n1', 'n2', 'n3', 'n4'].map(call);
    // Long enough for the four to reach the limiter, far shorter than a token (1 s).
    await new Promise((r) => setTimeout(r, 100));
    const ahead = firstInLine(() => call('first'));
    await Promise.all([...waiting, ahead]);
    // Second, not fifth (last, as a call not asked first would be). Tokens are 1 s apart:
    // only a stall of the machine longer than that could put n2 ahead of it as well.
    expect(order.indexOf('first')).toBeLessThan(order.indexOf('n3'));
  }, 20_000);

  test('throttling by AWS is retried adaptively and counted; it does not fail the call', async () => {
    const { session } = awsLayer({ roleArn: MGMT_ROLE, externalId: DEMO_EXTERNAL_ID });
    const sso = await session.managementClient(SSOAdminClient);
    await sso.send(new ListInstancesCommand({})); // credentials in place before the storm
    sim.faults.throttleStorm({ service: 'sso-admin' as never, fraction: 0.6, durationMs: 3000 });
    const stats = newAwsCallStats();
    await runInAwsScope({ stats }, async () => {
      for (let i = 0; i < 10; i++) await sso.send(new ListInstancesCommand({}));
    });
    expect(stats.throttles).toBeGreaterThan(0);
    expect(stats.calls).toBe(10 + stats.throttles + stats.errors);
  }, 60_000);

  test('an AbortSignal stops a pending call and a wait for a rate-limit token promptly', async () => {
    const { session } = awsLayer({ roleArn: MGMT_ROLE, externalId: DEMO_EXTERNAL_ID });
    const org = await session.managementClient(OrganizationsClient);
    await org.send(new ListRootsCommand({}));
    sim.faults.setLatency(5000);
    const ac = new AbortController();
    const p = runInAwsScope({ signal: ac.signal }, () => org.send(new ListRootsCommand({})));
    // Measured from the abort itself, not from before the 200 ms timer that makes it: on a
    // loaded machine the timer fires late, and that lateness is not the call's. 1 s stays
    // far below the 5 s the simulator holds the call, so only the abort can end it that soon.
    let abortedAt: number | undefined;
    setTimeout(() => {
      abortedAt = Date.now();
      ac.abort(new DOMException('cancelled', 'AbortError'));
    }, 200);
    await expect(p).rejects.toMatchObject({ name: 'AbortError' });
    expect(abortedAt).toBeDefined();
    expect(Date.now() - abortedAt!).toBeLessThan(1000);
  });

  test("the SDK's logger has no info or error, so its middleware builds no masked copy of each response; calls and errors still work, and its warnings are log lines", async () => {
    const { session, logs, clients } = awsLayer({ roleArn: MGMT_ROLE, externalId: DEMO_EXTERNAL_ID });
    const iam = await session.managementClient(IAMClient);
    const logger = (iam.config as unknown as { logger: Record<string, unknown> }).logger;
    // logger?.info?.({ input: filter(input), output: filter(output) }) runs its filters only when info exists.
    expect(logger['info']).toBeUndefined();
    expect(logger['error']).toBeUndefined();
    // The SDK calls these without checking that they exist.
    for (const m of ['debug', 'warn', 'trace']) expect(typeof logger[m]).toBe('function');
    await expect(iam.send(new GetAccountAuthorizationDetailsCommand({ MaxItems: 1 }))).resolves.toMatchObject({ $metadata: { httpStatusCode: 200 } });
    // The HTTP handler the clients share got the same logger (its socket warnings use it).
    expect((clients.sdkConfig.requestHandler.httpHandlerConfigs() as { logger?: unknown }).logger).toBe(logger);
    await expect(iam.send(new GetRoleCommand({ RoleName: 'NoSuchRoleAnywhere' }))).rejects.toMatchObject({ code: 'AWS_NOT_FOUND' });
    // What the SDK warns about (its sockets all in use, say) is a log line of the connector's, bounded.
    (logger['warn'] as (m: string) => void)(`@smithy/node-http-handler:WARN - socket usage at capacity=50 and 7 additional requests are enqueued. ${'x'.repeat(1000)}`);
    const warned = logs.entries().find((e) => e['event'] === 'aws.sdk_warning');
    expect(warned).toMatchObject({ level: 'warn', msg: expect.stringContaining('socket usage at capacity=50') });
    expect(String(warned!['msg']).length).toBeLessThanOrEqual(320);
  });

  test('every call carries the connector in its User-Agent', async () => {
    sim.stats.reset();
    const { session } = awsLayer({ roleArn: MGMT_ROLE, externalId: DEMO_EXTERNAL_ID });
    await (await session.managementClient(OrganizationsClient)).send(new ListRootsCommand({}));
    const agents = sim.stats.snapshot().userAgents;
    expect(agents.length).toBeGreaterThan(0);
    for (const ua of agents) expect(ua).toContain('access-connector/test');
  });

  test('sessions are refreshed before they expire: a long run never sees ExpiredToken', async () => {
    // Sessions now live 5 min + 4 s, so every session is inside the 5-minute refresh margin
    // after 4 s: the broker must replace it before AWS would refuse it.
    sim.faults.expireSessionsAfter(304);
    sim.stats.reset();
    const { session, logs, clients } = awsLayer({ roleArn: MGMT_ROLE, externalId: DEMO_EXTERNAL_ID });
    const org = await session.managementClient(OrganizationsClient);
    const stats = newAwsCallStats();
    await runInAwsScope({ stats }, async () => {
      for (let i = 0; i < 8; i++) {
        await org.send(new ListRootsCommand({}));
        await new Promise((r) => setTimeout(r, 1000));
      }
    });
    // Re-assumed, not reused to death (role sessions are fetched outside the job's scope,
    // so the simulator counts them).
    expect(sim.stats.snapshot().byOperation['sts:AssumeRole']?.calls ?? 0).toBeGreaterThanOrEqual(2);
    expect(stats.calls).toBe(8);
    expect(logs.lines.some((l) => l.includes('credentials expired'))).toBe(false);
  }, 30_000);
});
