// moto (PyPI `moto`, server mode) as an independent AWS emulator: a second opinion next to
// the home-made simulator in test/sim/aws, so that the two cannot drift away from AWS
// together. `startMoto` runs the pinned moto_server of .tools/moto-venv (installed by
// scripts/install-moto.sh) on a free loopback port; `seedMoto` builds, with the real AWS
// SDK, a small organization in it. docs/moto.md says what moto supports and where it
// differs from AWS.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { STSClient, GetCallerIdentityCommand, AssumeRoleCommand } from '@aws-sdk/client-sts';
import {
  OrganizationsClient,
  CreateOrganizationCommand,
  ListRootsCommand,
  CreateOrganizationalUnitCommand,
  CreateAccountCommand,
  DescribeCreateAccountStatusCommand,
  MoveAccountCommand,
  TagResourceCommand,
} from '@aws-sdk/client-organizations';
import {
  IAMClient,
  CreateRoleCommand,
  CreateUserCommand,
  CreateGroupCommand,
  AddUserToGroupCommand,
  CreatePolicyCommand,
  AttachRolePolicyCommand,
  AttachUserPolicyCommand,
  AttachGroupPolicyCommand,
  PutUserPolicyCommand,
  PutRolePolicyCommand,
  PutGroupPolicyCommand,
  PutRolePermissionsBoundaryCommand,
  CreateAccessKeyCommand,
  UpdateAccessKeyCommand,
} from '@aws-sdk/client-iam';
import {
  SSOAdminClient,
  ListInstancesCommand,
  CreatePermissionSetCommand,
  AttachManagedPolicyToPermissionSetCommand,
  PutInlinePolicyToPermissionSetCommand,
  CreateAccountAssignmentCommand,
  DescribeAccountAssignmentCreationStatusCommand,
} from '@aws-sdk/client-sso-admin';
import {
  IdentitystoreClient,
  CreateUserCommand as CreateIdentityStoreUserCommand,
  CreateGroupCommand as CreateIdentityStoreGroupCommand,
  CreateGroupMembershipCommand,
} from '@aws-sdk/client-identitystore';
import { DynamoDBClient, CreateTableCommand } from '@aws-sdk/client-dynamodb';

/** The moto version scripts/install-moto.sh pins (kept in step with it by a test). */
export const MOTO_VERSION = '5.2.5';

/** moto's default account: the caller of any request signed with non-STS credentials. */
export const MOTO_ACCOUNT_ID = '123456789012';

/** Fake, fixed credentials: moto accepts any; they are never real. */
export const MOTO_CREDENTIALS = {
  accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
} as const;

export const MOTO_REGION = 'us-east-1';

export type MotoCredentials = { accessKeyId: string; secretAccessKey: string; sessionToken?: string };

export interface MotoServer {
  /** http://127.0.0.1:PORT */
  url: string;
  port: number;
  /** Environment for a process (e.g. the connector) whose SDK clients should talk to moto. */
  env: Record<string, string>;
  /** Stops the server (SIGTERM, then SIGKILL after 5 s); safe to call twice. */
  stop(): Promise<void>;
}

/** Client options for an SDK v3 client against moto: its endpoint, fake keys, no retries. */
export function motoClientConfig(url: string, credentials: MotoCredentials = MOTO_CREDENTIALS, region = MOTO_REGION) {
  return { endpoint: url, region, credentials, maxAttempts: 1 };
}

/** The repository root (the folder with scripts/install-moto.sh), from src or dist. */
export function findRepoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(resolve(dir, 'scripts/install-moto.sh'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('moto: repository root (with scripts/install-moto.sh) not found');
    dir = up;
  }
}

/** Path of the moto_server executable installed by scripts/install-moto.sh. */
export function motoServerPath(): string {
  return resolve(findRepoRoot(), '.tools/moto-venv/bin/moto_server');
}

/**
 * One deadline for the whole start (listening, then answering HTTP; it was 30 s for each),
 * so a caller knows the most it can take: a cold start on a loaded machine (Python
 * importing moto) takes tens of seconds. A hook given more than this fails a slow start
 * with this error and moto's output rather than with jest's bare hook timeout.
 */
export const START_TIMEOUT_MS = 60_000;

/**
 * Spawns moto_server on 127.0.0.1, on a port the OS picks (`-p 0`; the bound port is read
 * from the server's own "Running on" line, so there is no pick-then-bind race), and
 * resolves once it answers HTTP. Throws if the venv is missing.
 */
export async function startMoto(): Promise<MotoServer> {
  return startMotoServer(motoServerPath());
}

/** `startMoto` with an explicit moto_server path (tests use it to see the missing-venv error). */
export async function startMotoServer(server: string): Promise<MotoServer> {
  if (!existsSync(server)) {
    throw new Error(`moto is not installed (${server} is missing): run scripts/install-moto.sh`);
  }
  const child = spawn(server, ['-H', '127.0.0.1', '-p', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/tmp',
      LANG: 'C.UTF-8',
      PYTHONUNBUFFERED: '1',
      PYTHONDONTWRITEBYTECODE: '1',
      // AWS managed policies (arn:aws:iam::aws:policy/...) exist in moto's IAM only with
      // this flag (read from a file inside the moto package, not downloaded), and loading
      // them costs ~0.85 s for every account moto creates: off, so the seed uses customer
      // managed policies in IAM (docs/moto.md).
      MOTO_IAM_LOAD_MANAGED_POLICIES: 'false',
      // No proxy, no real credentials, no instance metadata: moto has nothing to reach.
      AWS_ACCESS_KEY_ID: MOTO_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: MOTO_CREDENTIALS.secretAccessKey,
      AWS_DEFAULT_REGION: MOTO_REGION,
      AWS_EC2_METADATA_DISABLED: 'true',
      NO_PROXY: '*',
      no_proxy: '*',
    },
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-16_384);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    process.removeListener('exit', killOnExit);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
  };

  try {
    const deadline = Date.now() + START_TIMEOUT_MS;
    const port = await waitForPort(child, () => output, deadline);
    const url = `http://127.0.0.1:${port}`;
    await waitUntilAnswering(url, child, () => output, deadline);
    return {
      url,
      port,
      env: {
        AWS_ENDPOINT_URL: url,
        AWS_ACCESS_KEY_ID: MOTO_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: MOTO_CREDENTIALS.secretAccessKey,
        AWS_REGION: MOTO_REGION,
        AWS_DEFAULT_REGION: MOTO_REGION,
        AWS_EC2_METADATA_DISABLED: 'true',
      },
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

function waitForPort(child: ChildProcess, output: () => string, deadline: number): Promise<number> {
  return new Promise((res, rej) => {
    const done = (f: () => void) => {
      clearTimeout(timer);
      child.stdout!.off('data', check);
      child.stderr!.off('data', check);
      child.off('exit', onExit);
      f();
    };
    const check = () => {
      const m = /Running on http:\/\/127\.0\.0\.1:(\d+)/.exec(output());
      if (m) done(() => res(Number(m[1])));
    };
    const onExit = (code: number | null, signal: string | null) =>
      done(() => rej(new Error(`moto_server exited (${signal ?? code}) before listening:\n${output()}`)));
    const timer = setTimeout(
      () => done(() => rej(new Error(`moto_server did not start within ${START_TIMEOUT_MS / 1000} s:\n${output()}`))),
      Math.max(0, deadline - Date.now()),
    );
    child.stdout!.on('data', check);
    child.stderr!.on('data', check);
    child.once('exit', onExit);
    check();
  });
}

async function waitUntilAnswering(url: string, child: ChildProcess, output: () => string, deadline: number): Promise<void> {
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`moto_server exited before answering:\n${output()}`);
    }
    try {
      const r = await fetch(`${url}/moto-api/`, { signal: AbortSignal.timeout(2_000) });
      await r.arrayBuffer();
      if (r.ok) return;
    } catch {
      // not yet listening
    }
    if (Date.now() > deadline) throw new Error(`moto_server at ${url} did not answer within ${START_TIMEOUT_MS / 1000} s of its start:\n${output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// ---------------------------------------------------------------------------------------
// The seeded world

export interface MotoAccount {
  id: string;
  name: string;
  email: string;
  /** Id of the account's parent (root or OU) after seeding. */
  parentId: string;
  tags: Record<string, string>;
}

export interface MotoWorld {
  managementAccountId: string;
  organization: { id: string; arn: string; rootId: string };
  /** OUs by name: Workloads (under the root), Prod and NonProd (under Workloads), Sandbox (under the root). */
  ous: Record<'Workloads' | 'Prod' | 'NonProd' | 'Sandbox', { id: string; arn: string; parentId: string }>;
  /** Member accounts created with CreateAccount, in creation order (the management account is not in it). */
  accounts: MotoAccount[];
  connector: {
    /** The base identity the management role trusts (the connector's task role, in another account). */
    basePrincipalArn: string;
    externalId: string;
    managementRoleName: string;
    managementRoleArn: string;
    memberRoleName: string;
  };
  iam: {
    users: Record<'alice' | 'bob' | 'ci-deployer', { name: string; arn: string }>;
    groups: Record<'developers' | 'auditors', { name: string; arn: string }>;
    /** Roles other than the connector's management role. */
    roles: Record<'app-runtime' | 'break-glass', { name: string; arn: string }>;
    policies: Record<'boundary' | 'deploy', { name: string; arn: string }>;
    /** Access keys by user name; alice's second key is Inactive. */
    accessKeys: Record<string, { id: string; status: 'Active' | 'Inactive' }[]>;
    /** Inline policies as [principal name, policy name]. */
    inlinePolicies: { users: [string, string][]; groups: [string, string][]; roles: [string, string][] };
    /** Principal name → permissions boundary ARN (roles only: moto drops users' boundaries). */
    boundaries: Record<string, string>;
  };
  identityCenter: {
    instanceArn: string;
    identityStoreId: string;
    permissionSets: Record<'ReadOnly' | 'Admin', { name: string; arn: string }>;
    users: Record<'carol' | 'dave' | 'erin', { userName: string; userId: string }>;
    groups: Record<'Engineers' | 'Auditors', { displayName: string; groupId: string }>;
    /** Memberships as created: Engineers ← carol, dave; Auditors ← erin. */
    memberships: { groupId: string; userId: string; membershipId: string }[];
    /** Assignments created with CreateAccountAssignment (each reached SUCCEEDED). */
    assignments: {
      accountId: string;
      permissionSetArn: string;
      principalType: 'USER' | 'GROUP';
      principalId: string;
      requestId: string;
    }[];
  };
  dynamodb: { tableName: string; tableArn: string };
}

const json = (doc: unknown) => JSON.stringify(doc);

/**
 * Builds the world in a fresh moto with the real SDK. Call it once per server: names are
 * fixed, so a second call fails on EntityAlreadyExists.
 */
export async function seedMoto(url: string): Promise<MotoWorld> {
  const cfg = motoClientConfig(url);
  const sts = new STSClient(cfg);
  const org = new OrganizationsClient(cfg);
  const iam = new IAMClient(cfg);
  const sso = new SSOAdminClient(cfg);
  const ids = new IdentitystoreClient(cfg);
  const ddb = new DynamoDBClient(cfg);
  try {
    const managementAccountId = (await sts.send(new GetCallerIdentityCommand({}))).Account!;

    // --- Organizations -----------------------------------------------------------------
    const o = (await org.send(new CreateOrganizationCommand({ FeatureSet: 'ALL' }))).Organization!;
    const root = (await org.send(new ListRootsCommand({}))).Roots![0]!;
    const ou = async (name: string, parentId: string) => {
      const r = (await org.send(new CreateOrganizationalUnitCommand({ ParentId: parentId, Name: name, Tags: [{ Key: 'tier', Value: name.toLowerCase() }] }))).OrganizationalUnit!;
      return { id: r.Id!, arn: r.Arn!, parentId };
    };
    const workloads = await ou('Workloads', root.Id!);
    const ous = {
      Workloads: workloads,
      Prod: await ou('Prod', workloads.id),
      NonProd: await ou('NonProd', workloads.id),
      Sandbox: await ou('Sandbox', root.Id!),
    };
    const accountSpecs: { name: string; parent: string; tags: Record<string, string> }[] = [
      { name: 'prod-app', parent: ous.Prod.id, tags: { env: 'prod', owner: 'team-a' } },
      { name: 'prod-data', parent: ous.Prod.id, tags: { env: 'prod', owner: 'team-b' } },
      { name: 'dev-app', parent: ous.NonProd.id, tags: { env: 'dev' } },
      { name: 'sandbox-1', parent: ous.Sandbox.id, tags: { env: 'sandbox' } },
      { name: 'security', parent: root.Id!, tags: { env: 'shared', owner: 'secops' } },
    ];
    const accounts: MotoAccount[] = [];
    for (const spec of accountSpecs) {
      const email = `${spec.name}@example.com`;
      const status = (await org.send(new CreateAccountCommand({
        AccountName: spec.name,
        Email: email,
        Tags: Object.entries(spec.tags).map(([Key, Value]) => ({ Key, Value })),
      }))).CreateAccountStatus!;
      let st = status;
      for (let i = 0; st.State === 'IN_PROGRESS' && i < 50; i++) {
        st = (await org.send(new DescribeCreateAccountStatusCommand({ CreateAccountRequestId: status.Id! }))).CreateAccountStatus!;
      }
      if (st.State !== 'SUCCEEDED' || !st.AccountId) throw new Error(`moto: CreateAccount ${spec.name} ended ${st.State}`);
      if (spec.parent !== root.Id) {
        await org.send(new MoveAccountCommand({ AccountId: st.AccountId, SourceParentId: root.Id!, DestinationParentId: spec.parent }));
      }
      accounts.push({ id: st.AccountId, name: spec.name, email, parentId: spec.parent, tags: spec.tags });
    }
    // A tag added after creation (TagResource), besides those given to CreateAccount.
    await org.send(new TagResourceCommand({ ResourceId: accounts[0]!.id, Tags: [{ Key: 'cost-center', Value: 'cc-100' }] }));
    accounts[0]!.tags['cost-center'] = 'cc-100';

    // --- IAM in the management account -------------------------------------------------
    const basePrincipalArn = 'arn:aws:iam::210987654321:role/access-connector-task';
    const externalId = 'ac-external-id-7f3a9c';
    const managementRoleName = 'AccessConnectorManagement';
    const mgmtRole = (await iam.send(new CreateRoleCommand({
      RoleName: managementRoleName,
      Description: 'Assumed by the access connector',
      MaxSessionDuration: 3600,
      AssumeRolePolicyDocument: json({
        Version: '2012-10-17',
        Statement: [{
          Effect: 'Allow',
          Principal: { AWS: basePrincipalArn },
          Action: 'sts:AssumeRole',
          Condition: { StringEquals: { 'sts:ExternalId': externalId } },
        }],
      }),
      Tags: [{ Key: 'managed-by', Value: 'access-connector' }],
    }))).Role!;

    const policy = async (name: string, doc: unknown) => {
      const p = (await iam.send(new CreatePolicyCommand({ PolicyName: name, PolicyDocument: json(doc), Description: name }))).Policy!;
      return { name, arn: p.Arn! };
    };
    const policies = {
      boundary: await policy('DeveloperBoundary', {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: ['s3:*', 'logs:*', 'ec2:Describe*'], Resource: '*' }],
      }),
      deploy: await policy('DeployPolicy', {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: ['cloudformation:*', 'iam:PassRole'], Resource: '*' }],
      }),
    };
    await iam.send(new AttachRolePolicyCommand({ RoleName: managementRoleName, PolicyArn: policies.deploy.arn }));

    // moto keeps no permissions boundary for users: PutUserPermissionsBoundary is not
    // implemented and CreateUser ignores PermissionsBoundary (bob is created with one, which
    // moto drops: the tests pin that). Roles keep theirs.
    const user = async (name: string, tags: Record<string, string> = {}, boundary?: string) => {
      const u = (await iam.send(new CreateUserCommand({
        UserName: name,
        Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
        ...(boundary ? { PermissionsBoundary: boundary } : {}),
      }))).User!;
      return { name, arn: u.Arn! };
    };
    const users = {
      alice: await user('alice', { team: 'platform' }),
      bob: await user('bob', {}, policies.boundary.arn),
      'ci-deployer': await user('ci-deployer', { kind: 'machine' }),
    };
    const group = async (name: string) => ({ name, arn: (await iam.send(new CreateGroupCommand({ GroupName: name }))).Group!.Arn! });
    const groups = { developers: await group('developers'), auditors: await group('auditors') };
    await iam.send(new AddUserToGroupCommand({ GroupName: 'developers', UserName: 'alice' }));
    await iam.send(new AddUserToGroupCommand({ GroupName: 'developers', UserName: 'bob' }));
    await iam.send(new AddUserToGroupCommand({ GroupName: 'auditors', UserName: 'bob' }));
    await iam.send(new AttachGroupPolicyCommand({ GroupName: 'auditors', PolicyArn: policies.boundary.arn }));
    await iam.send(new AttachUserPolicyCommand({ UserName: 'ci-deployer', PolicyArn: policies.deploy.arn }));

    const role = async (name: string, principal: Record<string, string>, tags: Record<string, string> = {}) => {
      const r = (await iam.send(new CreateRoleCommand({
        RoleName: name,
        AssumeRolePolicyDocument: json({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: principal, Action: 'sts:AssumeRole' }] }),
        Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
      }))).Role!;
      return { name, arn: r.Arn! };
    };
    const roles = {
      'app-runtime': await role('app-runtime', { Service: 'ec2.amazonaws.com' }, { app: 'shop' }),
      'break-glass': await role('break-glass', { AWS: `arn:aws:iam::${managementAccountId}:root` }),
    };
    await iam.send(new AttachRolePolicyCommand({ RoleName: 'break-glass', PolicyArn: policies.deploy.arn }));

    const inline = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::example-bucket/*' }] };
    const inlinePolicies = {
      users: [['alice', 'alice-s3-read']] as [string, string][],
      groups: [['developers', 'developers-logs']] as [string, string][],
      roles: [['app-runtime', 'app-runtime-s3']] as [string, string][],
    };
    await iam.send(new PutUserPolicyCommand({ UserName: 'alice', PolicyName: 'alice-s3-read', PolicyDocument: json(inline) }));
    await iam.send(new PutGroupPolicyCommand({ GroupName: 'developers', PolicyName: 'developers-logs', PolicyDocument: json(inline) }));
    await iam.send(new PutRolePolicyCommand({ RoleName: 'app-runtime', PolicyName: 'app-runtime-s3', PolicyDocument: json(inline) }));

    await iam.send(new PutRolePermissionsBoundaryCommand({ RoleName: 'app-runtime', PermissionsBoundary: policies.boundary.arn }));
    const boundaries = { 'app-runtime': policies.boundary.arn };

    const accessKeys: MotoWorld['iam']['accessKeys'] = {};
    const key = async (userName: string, status: 'Active' | 'Inactive' = 'Active') => {
      const k = (await iam.send(new CreateAccessKeyCommand({ UserName: userName }))).AccessKey!;
      if (status === 'Inactive') await iam.send(new UpdateAccessKeyCommand({ UserName: userName, AccessKeyId: k.AccessKeyId!, Status: 'Inactive' }));
      (accessKeys[userName] ??= []).push({ id: k.AccessKeyId!, status });
    };
    await key('alice');
    await key('alice', 'Inactive');
    await key('ci-deployer');

    // --- Identity Center ---------------------------------------------------------------
    // moto has one instance from the start (CreateInstance is not implemented).
    const instance = (await sso.send(new ListInstancesCommand({}))).Instances![0]!;
    const instanceArn = instance.InstanceArn!;
    const identityStoreId = instance.IdentityStoreId!;
    const permissionSet = async (name: string) => {
      const p = (await sso.send(new CreatePermissionSetCommand({
        InstanceArn: instanceArn,
        Name: name,
        Description: `${name} access`,
        SessionDuration: 'PT1H',
        Tags: [{ Key: 'managed-by', Value: 'seed' }],
      }))).PermissionSet!;
      return { name, arn: p.PermissionSetArn! };
    };
    const permissionSets = { ReadOnly: await permissionSet('ReadOnly'), Admin: await permissionSet('Admin') };
    await sso.send(new AttachManagedPolicyToPermissionSetCommand({
      InstanceArn: instanceArn,
      PermissionSetArn: permissionSets.ReadOnly.arn,
      ManagedPolicyArn: 'arn:aws:iam::aws:policy/ReadOnlyAccess',
    }));
    await sso.send(new AttachManagedPolicyToPermissionSetCommand({
      InstanceArn: instanceArn,
      PermissionSetArn: permissionSets.Admin.arn,
      ManagedPolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess',
    }));
    await sso.send(new PutInlinePolicyToPermissionSetCommand({
      InstanceArn: instanceArn,
      PermissionSetArn: permissionSets.Admin.arn,
      InlinePolicy: json({ Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: 'organizations:LeaveOrganization', Resource: '*' }] }),
    }));

    const isUser = async (userName: string, given: string, family: string) => {
      const r = await ids.send(new CreateIdentityStoreUserCommand({
        IdentityStoreId: identityStoreId,
        UserName: userName,
        DisplayName: `${given} ${family}`,
        Name: { GivenName: given, FamilyName: family },
        Emails: [{ Value: `${userName}@example.com`, Type: 'work', Primary: true }],
      }));
      return { userName, userId: r.UserId! };
    };
    const isUsers = {
      carol: await isUser('carol', 'Carol', 'Jones'),
      dave: await isUser('dave', 'Dave', 'Smith'),
      erin: await isUser('erin', 'Erin', 'Brown'),
    };
    const isGroup = async (displayName: string) => {
      const r = await ids.send(new CreateIdentityStoreGroupCommand({ IdentityStoreId: identityStoreId, DisplayName: displayName, Description: `${displayName} group` }));
      return { displayName, groupId: r.GroupId! };
    };
    const isGroups = { Engineers: await isGroup('Engineers'), Auditors: await isGroup('Auditors') };
    const memberships: MotoWorld['identityCenter']['memberships'] = [];
    for (const [g, u] of [['Engineers', 'carol'], ['Engineers', 'dave'], ['Auditors', 'erin']] as const) {
      const groupId = isGroups[g].groupId;
      const userId = isUsers[u].userId;
      const r = await ids.send(new CreateGroupMembershipCommand({ IdentityStoreId: identityStoreId, GroupId: groupId, MemberId: { UserId: userId } }));
      memberships.push({ groupId, userId, membershipId: r.MembershipId! });
    }

    const assignments: MotoWorld['identityCenter']['assignments'] = [];
    const assign = async (accountId: string, permissionSetArn: string, principalType: 'USER' | 'GROUP', principalId: string) => {
      const r = (await sso.send(new CreateAccountAssignmentCommand({
        InstanceArn: instanceArn,
        TargetId: accountId,
        TargetType: 'AWS_ACCOUNT',
        PermissionSetArn: permissionSetArn,
        PrincipalType: principalType,
        PrincipalId: principalId,
      }))).AccountAssignmentCreationStatus!;
      let st = r;
      for (let i = 0; st.Status === 'IN_PROGRESS' && i < 50; i++) {
        st = (await sso.send(new DescribeAccountAssignmentCreationStatusCommand({
          InstanceArn: instanceArn,
          AccountAssignmentCreationRequestId: r.RequestId!,
        }))).AccountAssignmentCreationStatus!;
      }
      if (st.Status !== 'SUCCEEDED') throw new Error(`moto: CreateAccountAssignment ended ${st.Status}: ${st.FailureReason}`);
      assignments.push({ accountId, permissionSetArn, principalType, principalId, requestId: r.RequestId! });
    };
    await assign(accounts[0]!.id, permissionSets.ReadOnly.arn, 'GROUP', isGroups.Engineers.groupId);
    await assign(accounts[0]!.id, permissionSets.ReadOnly.arn, 'USER', isUsers.erin.userId);
    await assign(accounts[0]!.id, permissionSets.Admin.arn, 'USER', isUsers.carol.userId);
    await assign(accounts[2]!.id, permissionSets.Admin.arn, 'GROUP', isGroups.Engineers.groupId);

    // --- DynamoDB: the grant ledger ----------------------------------------------------
    const tableName = 'access-connector-grants';
    const table = (await ddb.send(new CreateTableCommand({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
    }))).TableDescription!;

    return {
      managementAccountId,
      organization: { id: o.Id!, arn: o.Arn!, rootId: root.Id! },
      ous,
      accounts,
      connector: {
        basePrincipalArn,
        externalId,
        managementRoleName,
        managementRoleArn: mgmtRole.Arn!,
        memberRoleName: 'OrganizationAccountAccessRole',
      },
      iam: { users, groups, roles, policies, accessKeys, inlinePolicies, boundaries },
      identityCenter: {
        instanceArn,
        identityStoreId,
        permissionSets,
        users: isUsers,
        groups: isGroups,
        memberships,
        assignments,
      },
      dynamodb: { tableName, tableArn: table.TableArn! },
    };
  } finally {
    for (const c of [sts, org, iam, sso, ids, ddb]) c.destroy();
  }
}

// ---------------------------------------------------------------------------------------
// The access world: a smaller world for the grant/revoke paths (test/moto/access.test.ts).
// ACCESS_WORLD describes it once; seedMotoAccess builds it in moto with the SDK, and the
// test builds the same world in the simulator from the same description, so both
// emulators start from one state and only their ids differ.

export const ACCESS_WORLD = {
  externalId: 'ac-access-external-id',
  managementRoleName: 'AccessConnectorManagement',
  memberAccountName: 'workload',
  ledgerTable: 'access-connector-ledger',
  identityCenter: {
    permissionSet: { name: 'ReadOnly', sessionDuration: 'PT1H', managedPolicyArn: 'arn:aws:iam::aws:policy/ReadOnlyAccess' },
    users: { carol: ['Carol', 'Jones'], dave: ['Dave', 'Smith'] },
    group: 'Engineers',
    /** Members of the group before any grant. */
    members: ['carol'],
    /** Assigned the permission set in the member account before any grant: the group, and carol herself. */
    assignments: ['group', 'carol'],
  },
  /** IAM of the member account. */
  iam: {
    /** Customer-managed policies by name: the actions each allows on `*`. */
    policies: { DeveloperBoundary: ['s3:*', 'logs:*'], LegacyBoundary: ['s3:Get*'], DeployPolicy: ['cloudformation:*'] },
    users: ['alice', 'bob'],
    groups: { developers: { members: [], attached: ['DeployPolicy'] }, auditors: { members: ['alice'], attached: [] } },
    roles: {
      'app-runtime': { boundary: 'LegacyBoundary', attached: [] },
      // Opted in for just-in-time access (tag access-connector-jit=enabled): iam.roleAssume changes them.
      'batch-runner': { attached: [], jit: true },
      'deploy-target': { attached: ['DeployPolicy'], jit: true },
    },
  },
} as const;

export type AccessUser = keyof typeof ACCESS_WORLD.identityCenter.users;
export type AccessIamRole = keyof typeof ACCESS_WORLD.iam.roles;
export type AccessIamPolicy = keyof typeof ACCESS_WORLD.iam.policies;

/** The document of one of ACCESS_WORLD's customer-managed policies. */
export function accessPolicyDocument(name: AccessIamPolicy): string {
  return json({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: [...ACCESS_WORLD.iam.policies[name]], Resource: '*' }] });
}

/**
 * The trust policy of one of ACCESS_WORLD's roles. deploy-target, the role iam.roleAssume
 * edits, has two statements of other shapes (a service; the account root with a
 * condition) that a revoke must leave exactly as they were.
 */
export function accessTrustPolicy(role: AccessIamRole, memberAccountId: string): string {
  const ec2 = { Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' };
  if (role !== 'deploy-target') return json({ Version: '2012-10-17', Statement: [ec2] });
  return json({
    Version: '2012-10-17',
    Statement: [
      { Sid: 'Ec2', ...ec2 },
      { Sid: 'OpsWithMfa', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${memberAccountId}:root` }, Action: 'sts:AssumeRole', Condition: { Bool: { 'aws:MultiFactorAuthPresent': 'true' } } },
    ],
  });
}

/** The ids an emulator gave to ACCESS_WORLD. */
export interface AccessWorldIds {
  managementAccountId: string;
  memberAccountId: string;
  organizationId: string;
  connector: { roleArn: string; externalId: string };
  identityCenter: {
    instanceArn: string;
    identityStoreId: string;
    permissionSetArn: string;
    users: Record<AccessUser, string>;
    groupId: string;
  };
  iam: {
    users: Record<(typeof ACCESS_WORLD.iam.users)[number], string>;
    roles: Record<AccessIamRole, string>;
    policies: Record<AccessIamPolicy, string>;
  };
  ledger: { table: string; region: string };
}

/** Builds ACCESS_WORLD in a fresh moto with the real SDK (once per server). */
export async function seedMotoAccess(url: string): Promise<AccessWorldIds> {
  const cfg = motoClientConfig(url);
  const sts = new STSClient(cfg);
  const org = new OrganizationsClient(cfg);
  const iam = new IAMClient(cfg);
  const sso = new SSOAdminClient(cfg);
  const ids = new IdentitystoreClient(cfg);
  const ddb = new DynamoDBClient(cfg);
  let memberIam: IAMClient | undefined;
  const spec = ACCESS_WORLD;
  try {
    const managementAccountId = (await sts.send(new GetCallerIdentityCommand({}))).Account!;
    const o = (await org.send(new CreateOrganizationCommand({ FeatureSet: 'ALL' }))).Organization!;
    let st = (await org.send(new CreateAccountCommand({ AccountName: spec.memberAccountName, Email: `${spec.memberAccountName}@example.com` }))).CreateAccountStatus!;
    for (let i = 0; st.State === 'IN_PROGRESS' && i < 50; i++) {
      st = (await org.send(new DescribeCreateAccountStatusCommand({ CreateAccountRequestId: st.Id! }))).CreateAccountStatus!;
    }
    if (st.State !== 'SUCCEEDED' || !st.AccountId) throw new Error(`moto: CreateAccount ${spec.memberAccountName} ended ${st.State}`);
    const memberAccountId = st.AccountId;

    const mgmtRole = (await iam.send(new CreateRoleCommand({
      RoleName: spec.managementRoleName,
      AssumeRolePolicyDocument: json({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${managementAccountId}:root` }, Action: 'sts:AssumeRole', Condition: { StringEquals: { 'sts:ExternalId': spec.externalId } } }],
      }),
    }))).Role!;

    // IAM of the member account: moto routes credentials of a role in another account to
    // that account (docs/moto.md, STS), as the organization's access role would in AWS.
    const creds = (await sts.send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${memberAccountId}:role/OrganizationAccountAccessRole`, RoleSessionName: 'seed' }))).Credentials!;
    const miam = (memberIam = new IAMClient(motoClientConfig(url, { accessKeyId: creds.AccessKeyId!, secretAccessKey: creds.SecretAccessKey!, sessionToken: creds.SessionToken! })));
    const policies = {} as Record<AccessIamPolicy, string>;
    for (const name of Object.keys(spec.iam.policies) as AccessIamPolicy[]) {
      policies[name] = (await miam.send(new CreatePolicyCommand({ PolicyName: name, PolicyDocument: accessPolicyDocument(name) }))).Policy!.Arn!;
    }
    const users = {} as AccessWorldIds['iam']['users'];
    for (const name of spec.iam.users) users[name] = (await miam.send(new CreateUserCommand({ UserName: name }))).User!.Arn!;
    for (const [name, g] of Object.entries(spec.iam.groups)) {
      await miam.send(new CreateGroupCommand({ GroupName: name }));
      for (const u of g.members) await miam.send(new AddUserToGroupCommand({ GroupName: name, UserName: u }));
      for (const p of g.attached) await miam.send(new AttachGroupPolicyCommand({ GroupName: name, PolicyArn: policies[p] }));
    }
    const roles = {} as Record<AccessIamRole, string>;
    for (const [name, r] of Object.entries(spec.iam.roles) as [AccessIamRole, (typeof spec.iam.roles)[AccessIamRole]][]) {
      roles[name] = (await miam.send(new CreateRoleCommand({
        RoleName: name, AssumeRolePolicyDocument: accessTrustPolicy(name, memberAccountId),
        ...('jit' in r && { Tags: [{ Key: 'access-connector-jit', Value: 'enabled' }] }),
      }))).Role!.Arn!;
      if ('boundary' in r) await miam.send(new PutRolePermissionsBoundaryCommand({ RoleName: name, PermissionsBoundary: policies[r.boundary] }));
      for (const p of r.attached) await miam.send(new AttachRolePolicyCommand({ RoleName: name, PolicyArn: policies[p] }));
    }

    const instance = (await sso.send(new ListInstancesCommand({}))).Instances![0]!;
    const instanceArn = instance.InstanceArn!;
    const identityStoreId = instance.IdentityStoreId!;
    const ps = spec.identityCenter.permissionSet;
    const permissionSetArn = (await sso.send(new CreatePermissionSetCommand({ InstanceArn: instanceArn, Name: ps.name, SessionDuration: ps.sessionDuration }))).PermissionSet!.PermissionSetArn!;
    await sso.send(new AttachManagedPolicyToPermissionSetCommand({ InstanceArn: instanceArn, PermissionSetArn: permissionSetArn, ManagedPolicyArn: ps.managedPolicyArn }));
    const ssoUsers = {} as Record<AccessUser, string>;
    for (const [name, [given, family]] of Object.entries(spec.identityCenter.users) as [AccessUser, readonly [string, string]][]) {
      ssoUsers[name] = (await ids.send(new CreateIdentityStoreUserCommand({
        IdentityStoreId: identityStoreId, UserName: name, DisplayName: `${given} ${family}`, Name: { GivenName: given, FamilyName: family },
        Emails: [{ Value: `${name}@example.com`, Type: 'work', Primary: true }],
      }))).UserId!;
    }
    const groupId = (await ids.send(new CreateIdentityStoreGroupCommand({ IdentityStoreId: identityStoreId, DisplayName: spec.identityCenter.group }))).GroupId!;
    for (const u of spec.identityCenter.members) {
      await ids.send(new CreateGroupMembershipCommand({ IdentityStoreId: identityStoreId, GroupId: groupId, MemberId: { UserId: ssoUsers[u] } }));
    }
    for (const who of spec.identityCenter.assignments) {
      const r = (await sso.send(new CreateAccountAssignmentCommand({
        InstanceArn: instanceArn, TargetId: memberAccountId, TargetType: 'AWS_ACCOUNT', PermissionSetArn: permissionSetArn,
        PrincipalType: who === 'group' ? 'GROUP' : 'USER', PrincipalId: who === 'group' ? groupId : ssoUsers[who],
      }))).AccountAssignmentCreationStatus!;
      let s = r;
      for (let i = 0; s.Status === 'IN_PROGRESS' && i < 50; i++) {
        s = (await sso.send(new DescribeAccountAssignmentCreationStatusCommand({ InstanceArn: instanceArn, AccountAssignmentCreationRequestId: r.RequestId! }))).AccountAssignmentCreationStatus!;
      }
      if (s.Status !== 'SUCCEEDED') throw new Error(`moto: CreateAccountAssignment ended ${s.Status}: ${s.FailureReason}`);
    }

    await ddb.send(new CreateTableCommand({
      TableName: spec.ledgerTable,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
    }));

    return {
      managementAccountId,
      memberAccountId,
      organizationId: o.Id!,
      connector: { roleArn: mgmtRole.Arn!, externalId: spec.externalId },
      identityCenter: { instanceArn, identityStoreId, permissionSetArn, users: ssoUsers, groupId },
      iam: { users, roles, policies },
      ledger: { table: spec.ledgerTable, region: MOTO_REGION },
    };
  } finally {
    for (const c of [sts, org, iam, sso, ids, ddb, memberIam]) c?.destroy();
  }
}
