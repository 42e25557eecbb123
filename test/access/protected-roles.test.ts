// The roles no grant ever edits, through the real runner against the simulator, for every
// kind that writes to an IAM role (iam.roleAssume: trust policy; iam.permissionsBoundary:
// boundary; iam.policyAttachment: managed policies; ec2.ssmSession: inline policy): the connector's own roles named in its
// configuration (CONNECTOR_ROLE_NAMES, whatever the integration says), the organization's
// plumbing (OrganizationAccountAccessRole unless the policy file opts in,
// AWSControlTowerExecution, AWSCloudFormationStackSetExecutionRole, stacksets-exec-*,
// AWSReservedSSO_*, service-linked roles). Refused with ROLE_PROTECTED, naming the rule,
// before any AWS write.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Ledger } from '../../src/access/ledger.js';
import { accessParamsSchema } from '../../src/access/params.js';
import { runGrant, runRevoke, type AccessDeps } from '../../src/access/run-access.js';
import type { AccessRequest } from '../../src/access/types.js';
import { AwsRuntime } from '../../src/aws/runtime.js';
import { ConfigError, type Config } from '../../src/config.js';
import { ConnectorError } from '../../src/errors.js';
import { policySchema } from '../../src/policy/schema.js';
import { integrationSchema, type Integration } from '../../src/protocol/messages.js';
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import { demoIntegration } from '../sim/aws/worlds/demo.js';
import { useAwsEnv } from '../helpers/aws.js';
import { captureLog } from '../helpers/log.js';
import { testConfig } from '../helpers/config.js';
import { declaredActions } from '../../src/permissions.js';

const PROD = '333333333301';
const roleArn = (name: string, path = '/') => `arn:aws:iam::${PROD}:role${path}${name}`;

/** Name, path, and the rule that must refuse it. */
const PROTECTED: [string, string, string][] = [
  ['AccessConnectorTask', '/', 'connector-role'], // from CONNECTOR_ROLE_NAMES only
  ['AccessConnectorMember', '/', 'connector-role'], // the integration's memberRoleName
  ['OrganizationAccountAccessRole', '/', 'organization-access-role'],
  ['organizationaccountaccessrole', '/', 'organization-access-role'],
  ['AWSControlTowerExecution', '/', 'control-tower-role'],
  ['awscontroltowerexecution', '/', 'control-tower-role'],
  ['AWSCloudFormationStackSetExecutionRole', '/', 'stackset-execution-role'],
  ['stacksets-exec-0123456789abcdef0123456789abcdef', '/', 'stackset-execution-role'],
  ['StackSets-Exec-fedcba9876543210', '/', 'stackset-execution-role'],
  ['AWSReservedSSO_ReadOnly_0123456789abcdef', '/aws-reserved/sso.amazonaws.com/', 'identity-center-role'],
  ['AWSServiceRoleForSSO', '/aws-service-role/sso.amazonaws.com/', 'service-linked-role'],
];

describe('protected roles through the runner', () => {
  let sim: AwsSimulator;
  let restore: () => void;
  let integration: Integration;
  let web1: string;
  const runtimes: AwsRuntime[] = [];
  const logs = captureLog('debug');

  function deps(config: Config): AccessDeps {
    const aws = new AwsRuntime({ declaredActions: declaredActions(), connectorId: 'conn-test', log: logs.log, quotaShare: 1 });
    runtimes.push(aws);
    const client = aws.clients.get(DynamoDBClient, { region: 'us-east-1', accountId: 'self', credentials: aws.broker('us-east-1').base() });
    const ledger = new Ledger({ client, table: 'access-connector-ledger', owner: `test-${runtimes.length}` });
    return { aws, ledger, config, log: logs.log };
  }
  const config = (over: Partial<Config> = {}): Config => ({ ...testConfig({ CONNECTOR_ROLE_NAMES: 'AccessConnectorTask, arn:aws:iam::111111111111:role/ops/AccessConnectorManagement' }), ...over });
  const job = (d: AccessDeps, request: AccessRequest) => ({ jobId: `job-${Math.random()}`, integration, request, signal: new AbortController().signal, log: d.log });
  /** Every write any account saw (CloudTrail of the simulator: mutating calls only), ledger included. */
  const writes = () => [...sim.world.accounts.values()].reduce((n, a) => n + a.trail.length, 0);
  const inAnHour = () => new Date(Date.now() + 3600_000).toISOString();

  /** One request per kind that writes to the role `arn`. */
  function requestsOn(arn: string, n: number): AccessRequest[] {
    return [
      { grantId: `g-ra-${n}`, accessKind: 'iam.roleAssume', principal: { type: 'user', id: `arn:aws:iam::${PROD}:user/ci-bot` }, target: { roleArn: arn }, expiresAt: inAnHour() },
      { grantId: `g-pb-${n}`, accessKind: 'iam.permissionsBoundary', principal: { type: 'role', id: arn }, target: { boundaryPolicyArn: 'arn:aws:iam::aws:policy/ReadOnlyAccess' } },
      { grantId: `g-pa-${n}`, accessKind: 'iam.policyAttachment', principal: { type: 'role', id: arn }, target: { policyArn: 'arn:aws:iam::aws:policy/ReadOnlyAccess' } },
      { grantId: `g-ssm-${n}`, accessKind: 'ec2.ssmSession', principal: { type: 'role', id: arn }, target: { accountId: PROD, region: 'us-east-1', instanceIds: [web1] } },
    ].map((r) => accessParamsSchema.parse(r));
  }

  beforeAll(async () => {
    sim = await startAwsSimulator({ world: 'demo' });
    restore = useAwsEnv(sim.env);
    integration = integrationSchema.parse(demoIntegration());
    web1 = [...sim.world.accounts.get(PROD)!.ssm.get('us-east-1')!.instances.values()].find((i) => i.name === 'web-1')!.id;
    // The roles exist, as they would in a real organization: only the connector's rules stop the writes.
    for (const [name, path] of PROTECTED) {
      if (!sim.admin.getRole({ accountId: PROD, roleName: name })) sim.admin.createRole({ accountId: PROD, roleName: name, path });
    }
  });
  afterAll(async () => {
    for (const r of runtimes) r.destroy();
    restore();
    await sim.close();
  });

  // Regression: only names from the integration were protected, and none of the
  // organization's plumbing roles but OrganizationAccountAccessRole.
  test.each(PROTECTED.map(([name, path, rule], i) => ({ name, path, rule, i })))('$name: every role-writing kind refuses (rule $rule), zero AWS writes', async ({ name, path, rule, i }) => {
    const d = deps(config());
    const before = writes();
    for (const req of requestsOn(roleArn(name, path), i)) {
      const err = await runGrant(d, job(d, req)).then(() => undefined, (e: unknown) => e);
      expect({ kind: req.accessKind, err }).toEqual({ kind: req.accessKind, err: expect.any(ConnectorError) });
      expect({ kind: req.accessKind, code: (err as ConnectorError).code }).toEqual({ kind: req.accessKind, code: 'ROLE_PROTECTED' });
      expect((err as ConnectorError).message).toContain(`never edits role ${name} (rule ${rule})`);
    }
    expect(writes()).toBe(before);
  });

  test('the connector\'s own roles come from its configuration: an integration naming other roles does not unprotect them', async () => {
    const d = deps(config());
    const before = writes();
    const other = integrationSchema.parse(demoIntegration({ memberRoleName: 'SomethingElse', roleArn: 'arn:aws:iam::111111111111:role/SomethingElse' }));
    for (const name of ['AccessConnectorTask', 'AccessConnectorManagement']) {
      if (!sim.admin.getRole({ accountId: PROD, roleName: name })) sim.admin.createRole({ accountId: PROD, roleName: name });
      for (const req of requestsOn(roleArn(name), 100 + name.length)) {
        const err = await runGrant(d, { ...job(d, req), integration: other }).then(() => undefined, (e: unknown) => e);
        expect({ kind: req.accessKind, code: (err as ConnectorError).code, rule: /rule connector-role/.test((err as Error).message) }).toEqual({ kind: req.accessKind, code: 'ROLE_PROTECTED', rule: true });
      }
    }
    expect(writes()).toBe(before);
  });

  test('OrganizationAccountAccessRole only when the policy file opts in, with a strict boolean', async () => {
    expect(policySchema.safeParse({ version: 1, accessKinds: { allowOrganizationAccountAccessRole: 'true' } }).success).toBe(false);
    expect(policySchema.safeParse({ version: 1, accessKinds: { allowOrganizationAccountAccessRole: 1 } }).success).toBe(false);
    const policy = policySchema.parse({ version: 1, accessKinds: { allowOrganizationAccountAccessRole: true } });
    const d = deps(config({ policy }));
    // Opted in for just-in-time access too (src/access/opt-in.ts), as the templates require.
    sim.admin.tagRole({ accountId: PROD, roleName: 'OrganizationAccountAccessRole', tags: { 'access-connector-jit': 'enabled' } });
    const [assume] = requestsOn(roleArn('OrganizationAccountAccessRole'), 900);
    expect(await runGrant(d, job(d, assume!))).toMatchObject({ state: 'granted' });
    const trust = () => JSON.parse(sim.admin.getRole({ accountId: PROD, roleName: 'OrganizationAccountAccessRole' })!.trustPolicy as string) as { Statement: { Sid?: string }[] };
    expect(trust().Statement.some((s) => s.Sid?.startsWith('AccessConnector'))).toBe(true);
    expect(await runRevoke(d, { ...job(d, assume!), origin: 'job' })).toMatchObject({ state: 'revoked' });
    expect(trust().Statement.some((s) => s.Sid?.startsWith('AccessConnector'))).toBe(false);
    // The opt-in is for that role only.
    const before = writes();
    const [tower] = requestsOn(roleArn('AWSControlTowerExecution'), 901);
    expect(((await runGrant(d, job(d, tower!)).then(() => undefined, (e: unknown) => e)) as ConnectorError).code).toBe('ROLE_PROTECTED');
    expect(writes()).toBe(before);
  });

  test('CONNECTOR_ROLE_NAMES: names or role ARNs, comma-separated; anything else stops the start-up', () => {
    expect(config().connectorRoleNames).toEqual(['AccessConnectorTask', 'AccessConnectorManagement']);
    expect(testConfig().connectorRoleNames).toEqual([]);
    for (const bad of ['role with space', 'arn:aws:iam::111111111111:user/x', '../x', 'a'.repeat(65)]) {
      expect(() => testConfig({ CONNECTOR_ROLE_NAMES: bad })).toThrow(ConfigError);
    }
  });
});
