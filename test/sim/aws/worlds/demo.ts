// The `demo` world: a small hand-written organization to develop and demo against.
//
//   Root ─ Management 111111111111, Security 222222222222, Log archive 777777777777
//    ├─ Production: 333333333301…306
//    ├─ Development: 444444444401…405
//    │   └─ Sandbox: 555555555501…505
//    └─ Suspended: 666666666666 (SUSPENDED)
//
// The connector's base identity is a ConnectorTaskRole session in 999999999999 (outside the
// organization); it may assume AccessConnectorManagement (ExternalId `demo-external-id`),
// which every account's AccessConnectorMember trusts.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { REPO_ROOT } from '../../../helpers/paths.js';
import type { Account, World } from '../world.js';
import { arn } from '../world.js';
import { Builder, trust } from './builder.js';

export const DEMO_EXTERNAL_ID = 'demo-external-id';
export const DEMO_MANAGEMENT_ACCOUNT = '111111111111';
export const DEMO_REGIONS = ['us-east-1', 'eu-west-1', 'us-west-2'];

export function demoWorld(): World {
  const b = new Builder({ name: 'demo', seed: 20240601, regions: DEMO_REGIONS, managementAccountId: DEMO_MANAGEMENT_ACCOUNT, externalId: DEMO_EXTERNAL_ID });
  const w = b.w;
  const org = w.organization!;
  org.rootTags = [{ Key: 'owner', Value: 'cloud-platform' }];
  const prod = b.ou('Production', org.rootId, [{ Key: 'owner', Value: 'sre' }]);
  const dev = b.ou('Development', org.rootId);
  const sandbox = b.ou('Sandbox', dev);
  const suspendedOu = b.ou('Suspended', org.rootId);

  const mgmt = b.account(DEMO_MANAGEMENT_ACCOUNT, 'management', org.rootId, 'ACTIVE', [{ Key: 'owner', Value: 'cloud-platform' }]);
  const accounts: Account[] = [mgmt,
    b.account('222222222222', 'security', org.rootId, 'ACTIVE', [{ Key: 'owner', Value: 'security-team' }]),
    b.account('777777777777', 'log-archive', org.rootId)];
  for (let i = 1; i <= 6; i++) accounts.push(b.account(`33333333330${i}`, `prod-${i}`, prod, 'ACTIVE', i <= 3 ? [{ Key: 'owner', Value: `team-${i}` }, { Key: 'env', Value: 'prod' }] : [{ Key: 'env', Value: 'prod' }]));
  for (let i = 1; i <= 5; i++) accounts.push(b.account(`44444444440${i}`, `dev-${i}`, dev, 'ACTIVE', [{ Key: 'env', Value: 'dev' }]));
  for (let i = 1; i <= 5; i++) accounts.push(b.account(`55555555550${i}`, `sandbox-${i}`, sandbox, 'ACTIVE', [{ Key: 'env', Value: 'sandbox' }]));
  accounts.push(b.account('666666666666', 'retired', suspendedOu, 'SUSPENDED'));

  b.managementRole(mgmt, DEMO_EXTERNAL_ID);
  b.role(mgmt, 'AWSServiceRoleForOrganizations', { path: '/aws-service-role/organizations.amazonaws.com/', trust: trust({ Service: 'organizations.amazonaws.com' }) });
  mgmt.iam.aliases = ['demo-management'];

  // ---- IAM in every account ----
  const boundaryName = 'AccessConnectorBoundary';
  for (const a of accounts) {
    b.standardRoles(a);
    const deploy = b.policy(a, 'DeployPolicy', ['cloudformation:*', 's3:*'], '/', [{ Key: 'owner', Value: 'platform' }]);
    b.policy(a, boundaryName, ['s3:Get*', 'ec2:Describe*'], '/');
    b.policy(a, 'UnusedPolicy', ['sqs:*'], '/legacy/');
    b.role(a, 'app-deployer', { trust: trust({ AWS: `arn:${w.partition}:iam::${a.id}:root` }), attached: [deploy],
      // Opted in for just-in-time access (src/access/opt-in.ts); lambda-exec is not.
      tags: [{ Key: 'owner', Value: 'platform' }, { Key: 'access-connector-jit', Value: 'enabled' }],
      inline: { 'extra-s3': JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:ListBucket', Resource: '*' }] }) } });
    b.role(a, 'lambda-exec', { trust: trust({ Service: 'lambda.amazonaws.com' }), attached: [arn.awsPolicy(w, '/service-role/', 'AWSLambdaBasicExecutionRole')] });
    b.user(a, 'ci-bot', { keys: 2, tags: [{ Key: 'owner', Value: 'platform' }], attached: [deploy] });
    b.user(a, 'breakglass', { keys: 1, attached: [arn.awsPolicy(w, '/', 'AdministratorAccess')] }).passwordLastUsed = Date.UTC(2024, 4, 17, 8, 30);
    b.user(a, 'auditor', { attached: [arn.awsPolicy(w, '/', 'SecurityAudit')] });
    b.group(a, 'Operators', ['ci-bot'], [arn.awsPolicy(w, '/', 'ReadOnlyAccess')]);
    b.group(a, 'Auditors', ['auditor'], undefined, { 'read-logs': JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'logs:Get*', Resource: '*' }] }) });
  }

  // ---- Identity Center ----
  b.sso(mgmt.id, 'us-east-1');
  const people = [['alice', 'Alice', 'Anders'], ['bob', 'Bob', 'Brown'], ['carol', 'Carol', 'Chen'], ['dave', 'Dave', 'Diaz'], ['erin', 'Erin', 'Evans'],
    ['frank', 'Frank', 'Fischer'], ['grace', 'Grace', 'Garcia'], ['heidi', 'Heidi', 'Huber'], ['ivan', 'Ivan', 'Ivanov'], ['judy', 'Judy', 'Jones']] as const;
  const users: Record<string, string> = {};
  for (const [u, g, f] of people) users[u] = b.ssoUser(`${u}@example.com`, g, f);
  const groups = {
    Admins: b.ssoGroup('Admins', 'Cloud administrators'), Developers: b.ssoGroup('Developers'), ReadOnly: b.ssoGroup('ReadOnly'),
    Security: b.ssoGroup('Security', 'Security team'), Finance: b.ssoGroup('Finance'),
  };
  const members: [keyof typeof groups, string[]][] = [
    ['Admins', ['alice', 'bob']], ['Developers', ['carol', 'dave', 'erin', 'frank']], ['ReadOnly', ['grace', 'heidi', 'carol']],
    ['Security', ['ivan', 'alice']], ['Finance', ['judy']],
  ];
  for (const [g, us] of members) for (const u of us) b.membership(groups[g], users[u]!);
  // Sign-ins to the AWS access portal (logged in CloudTrail when the simulator starts): alice
  // twice, bob once, carol only before the 90 days CloudTrail keeps, the others never.
  const day = 86_400_000;
  w.sso!.signIns = [
    { userId: users.alice!, agoMs: 2 * day }, { userId: users.alice!, agoMs: 9 * day },
    { userId: users.bob!, agoMs: 40 * day }, { userId: users.carol!, agoMs: 100 * day },
  ];

  const psAdmin = b.permissionSet('AdministratorAccess', { managed: [arn.awsPolicy(w, '/', 'AdministratorAccess')], sessionDuration: 'PT1H' });
  const psRead = b.permissionSet('ReadOnly', { managed: [arn.awsPolicy(w, '/', 'ReadOnlyAccess')], description: 'Read-only access', sessionDuration: 'PT8H' });
  const psDev = b.permissionSet('Developer', {
    managed: [arn.awsPolicy(w, '/', 'PowerUserAccess')], customerManaged: [{ Name: 'DeployPolicy', Path: '/' }],
    inline: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: 'iam:*', Resource: '*' }] }), tags: [{ Key: 'owner', Value: 'platform' }],
  });
  const psAudit = b.permissionSet('SecurityAudit', { managed: [arn.awsPolicy(w, '/', 'SecurityAudit')], boundary: { ManagedPolicyArn: arn.awsPolicy(w, '/', 'ReadOnlyAccess') } });
  const psBilling = b.permissionSet('Billing', { managed: [arn.awsPolicy(w, '/', 'AWSBillingReadOnlyAccess')], boundary: { CustomerManagedPolicyReference: { Name: boundaryName, Path: '/' } } });

  const active = accounts.filter((a) => a.state === 'ACTIVE');
  for (const a of active) {
    b.assign(psAdmin, a, 'GROUP', groups.Admins);
    b.assign(psAudit, a, 'GROUP', groups.Security);
  }
  for (const a of active.filter((x) => x.parentId === dev || x.parentId === sandbox)) b.assign(psDev, a, 'GROUP', groups.Developers);
  for (const a of active.filter((x) => x.parentId === prod)) b.assign(psRead, a, 'GROUP', groups.ReadOnly);
  b.assign(psAdmin, mgmt, 'USER', users.alice!);
  b.assign(psBilling, mgmt, 'GROUP', groups.Finance);
  b.assign(psRead, accounts.find((a) => a.id === '333333333301')!, 'USER', users.judy!);

  // ---- SSM-managed instances in two regions ----
  const p1 = accounts.find((a) => a.id === '333333333301')!;
  const d1 = accounts.find((a) => a.id === '444444444401')!;
  const web1 = b.instance(p1, 'us-east-1', { name: 'web-1', tags: [{ Key: 'owner', Value: 'team-1' }, { Key: 'Name', Value: 'web-1' }] });
  b.instance(p1, 'us-east-1', { name: 'web-2', tags: [{ Key: 'Name', Value: 'web-2' }] });
  b.instance(p1, 'us-east-1', { name: 'bastion', tags: [{ Key: 'Name', Value: 'bastion' }], ping: 'ConnectionLost' });
  b.instance(p1, 'eu-west-1', { name: 'eu-worker', tags: [{ Key: 'owner', Value: 'team-eu' }] });
  b.instance(p1, 'eu-west-1', { name: 'eu-win', platform: 'Windows' });
  b.instance(d1, 'us-east-1', { name: 'dev-box', tags: [{ Key: 'owner', Value: 'carol' }] });
  b.instance(d1, 'us-west-2', { name: 'dev-west' });
  // OS users access-connector did not create, which it must never touch: the image's own
  // user, and one that merely looks like ours (ac- prefix, no marker).
  web1.osUsers['ec2-user'] = { state: 'pre-existing', parameters: {}, at: b.t0, uid: 1000, gecos: 'EC2 Default User', shell: '/bin/bash', locked: false, authorizedKeys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFpXh0tTeamKeyOfTheImageOwnerNotOurs0000 ops@example.com'], processes: 1 };
  web1.osUsers['ac-legacy'] = { state: 'pre-existing', parameters: {}, at: b.t0, uid: 1001, gecos: 'hand-made', shell: '/bin/bash', locked: false, authorizedKeys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHandMadeUserThatOnlyLooksLikeOurs000000000 admin@example.com'], processes: 0 };
  // The connector's Command document, as the templates deploy it to every account and region.
  const localUserDoc = readFileSync(resolve(REPO_ROOT, 'src/access/documents/local-user.json'), 'utf8');
  for (const a of active) for (const r of DEMO_REGIONS) b.commandDocument(a, r, 'AccessConnector-LocalUser', localUserDoc);

  // ---- Resource Explorer: aggregator in us-east-1 everywhere; an organization view in the management account ----
  for (const a of active) {
    b.resourceExplorer(a, 'us-east-1', a === mgmt);
    b.resource(a, 'us-east-1', 's3:bucket', `demo-${a.id}-artifacts`, [{ Key: 'owner', Value: 'platform' }]);
    b.resource(a, 'eu-west-1', 's3:bucket', `demo-${a.id}-logs`);
    b.resource(a, 'us-east-1', 'lambda:function', 'function:api-handler', [{ Key: 'owner', Value: 'team-api' }]);
    b.resource(a, 'us-west-2', 'lambda:function', 'function:batch');
    b.resource(a, 'eu-west-1', 'dynamodb:table', 'table/orders');
    b.resource(a, 'us-west-2', 'ec2:volume', `volume/vol-${a.id.slice(-6)}abcdef01`);
  }

  // The connector's ledger table, as the deployment templates create it (key names: pk, sk).
  const base = w.accounts.get(w.base.roleArn.split(':')[4]!)!;
  base.dynamodb.set('us-east-1', new Map([['access-connector-ledger', {
    name: 'access-connector-ledger', arn: `arn:${w.partition}:dynamodb:us-east-1:${base.id}:table/access-connector-ledger`, created: b.t0,
    keySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
    attributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'S' }], items: new Map(),
  }]]));
  w.connector.ledgerTable = { account: base.id, region: 'us-east-1', name: 'access-connector-ledger' };
  return w;
}

/** The integration (docs/protocol.md, "Integration") a control plane would send for the demo organization. */
export function demoIntegration(over: Record<string, unknown> = {}) {
  return {
    id: 'int-demo',
    name: 'demo-org',
    type: 'aws-organization' as const,
    region: 'us-east-1',
    roleArn: `arn:aws:iam::${DEMO_MANAGEMENT_ACCOUNT}:role/AccessConnectorManagement`,
    externalId: DEMO_EXTERNAL_ID,
    ssoRegion: 'us-east-1',
    ...over,
  };
}
