import {
  SSMClient, DescribeInstanceInformationCommand, paginateDescribeInstanceInformation, SendCommandCommand, GetCommandInvocationCommand,
  ListCommandInvocationsCommand, CreateDocumentCommand, DescribeDocumentCommand, GetDocumentCommand, DescribeSessionsCommand, TerminateSessionCommand,
  InvalidDocument, InvalidParameters, InvalidInstanceId, InvocationDoesNotExist, DocumentAlreadyExists, ValidationException, ThrottlingException,
} from '@aws-sdk/client-ssm';
import { CloudTrailClient, LookupEventsCommand, ThrottlingException as CtThrottling } from '@aws-sdk/client-cloudtrail';
import { IAMClient, TagRoleCommand } from '@aws-sdk/client-iam';
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import { cfg, failure, member } from './helpers.js';

const ACCT = '333333333301';
const DOC = {
  schemaVersion: '2.2', description: 'access-connector local users',
  parameters: {
    action: { type: 'String', allowedValues: ['create', 'lock', 'delete'] },
    userName: { type: 'String', allowedPattern: '^ac-[a-z0-9-]{1,28}$' },
    sshPublicKey: { type: 'String', allowedPattern: '^(ssh-ed25519|ecdsa-sha2-nistp256|ssh-rsa) [A-Za-z0-9+/]+={0,2}$', default: '' },
  },
  mainSteps: [{ action: 'aws:runShellScript', name: 'run', inputs: { runCommand: ['echo'] } }],
};

describe('SSM', () => {
  let sim: AwsSimulator;
  let ssm: SSMClient;
  beforeAll(async () => {
    sim = await startAwsSimulator({ quotas: false, ssm: { commandDelayMs: 500 } });
    ssm = new SSMClient(cfg(sim, await member(sim, ACCT)));
  });
  afterAll(() => sim.close());

  test('DescribeInstanceInformation per region, 5–50 per page', async () => {
    const east = [];
    for await (const p of paginateDescribeInstanceInformation({ client: ssm, pageSize: 5 }, {})) east.push(...p.InstanceInformationList!);
    expect(east).toHaveLength(3);
    expect(east.find((i) => i.Name === 'bastion')?.PingStatus).toBe('ConnectionLost');
    const eu = new SSMClient(cfg(sim, await member(sim, ACCT), 'eu-west-1'));
    expect((await eu.send(new DescribeInstanceInformationCommand({}))).InstanceInformationList).toHaveLength(2);
    expect(await failure(ssm.send(new DescribeInstanceInformationCommand({ MaxResults: 51 })))).toBeInstanceOf(ValidationException);
    expect(await failure(ssm.send(new DescribeInstanceInformationCommand({ MaxResults: 4 })))).toBeInstanceOf(ValidationException);
  });

  test('documents: create (JSON and YAML), describe, get, duplicate', async () => {
    const c = await ssm.send(new CreateDocumentCommand({ Name: 'Team-LocalUser', Content: JSON.stringify(DOC), DocumentType: 'Command', DocumentFormat: 'JSON' }));
    expect(c.DocumentDescription?.Parameters?.map((p) => p.Name)).toEqual(['action', 'userName', 'sshPublicKey']);
    expect(await failure(ssm.send(new CreateDocumentCommand({ Name: 'Team-LocalUser', Content: JSON.stringify(DOC) })))).toBeInstanceOf(DocumentAlreadyExists);
    await ssm.send(new CreateDocumentCommand({ Name: 'yaml-doc', DocumentFormat: 'YAML', Content: 'schemaVersion: "2.2"\nparameters:\n  x:\n    type: String\nmainSteps: []\n' }));
    expect((await ssm.send(new DescribeDocumentCommand({ Name: 'yaml-doc' }))).Document?.DocumentFormat).toBe('YAML');
    expect(JSON.parse((await ssm.send(new GetDocumentCommand({ Name: 'Team-LocalUser' }))).Content!).description).toBe('access-connector local users');
  });

  test('SendCommand validates the document, instances and parameters, then reaches Success', async () => {
    const ids = (await ssm.send(new DescribeInstanceInformationCommand({ Filters: [{ Key: 'PingStatus', Values: ['Online'] }] }))).InstanceInformationList!.map((i) => i.InstanceId!);
    expect(ids).toHaveLength(2);
    expect(await failure(ssm.send(new SendCommandCommand({ DocumentName: 'NoSuchDoc', InstanceIds: ids })))).toBeInstanceOf(InvalidDocument);
    expect(await failure(ssm.send(new SendCommandCommand({ DocumentName: 'Team-LocalUser', InstanceIds: ids, Parameters: { action: ['create'], userName: ['root'] } })))).toBeInstanceOf(InvalidParameters);
    expect(await failure(ssm.send(new SendCommandCommand({ DocumentName: 'Team-LocalUser', InstanceIds: ids, Parameters: { action: ['create'], userName: ['ac-bob'], sshPublicKey: ['ssh-dss AAAA'] } })))).toBeInstanceOf(InvalidParameters);
    expect(await failure(ssm.send(new SendCommandCommand({ DocumentName: 'Team-LocalUser', InstanceIds: ['i-00000000000000000'], Parameters: { action: ['create'], userName: ['ac-bob'] } })))).toBeInstanceOf(InvalidInstanceId);
    expect((await failure(ssm.send(new SendCommandCommand({ DocumentName: 'AWS-RunShellScript', InstanceIds: Array.from({ length: 51 }, (_, i) => `i-${i}`), Parameters: { commands: ['id'] } })))).name).toBe('ValidationException');

    const sent = await ssm.send(new SendCommandCommand({ DocumentName: 'Team-LocalUser', InstanceIds: ids, Parameters: { action: ['create'], userName: ['ac-bob'], sshPublicKey: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB'] } }));
    const cid = sent.Command!.CommandId!;
    expect(sent.Command?.Status).toBe('Pending');
    const inv = await ssm.send(new GetCommandInvocationCommand({ CommandId: cid, InstanceId: ids[0] }));
    expect(inv.Status).toBe('InProgress');
    sim.admin.advanceClock({ ms: 600 });
    expect((await ssm.send(new GetCommandInvocationCommand({ CommandId: cid, InstanceId: ids[0] }))).Status).toBe('Success');
    expect((await ssm.send(new ListCommandInvocationsCommand({ CommandId: cid }))).CommandInvocations).toHaveLength(2);
    expect(await failure(ssm.send(new GetCommandInvocationCommand({ CommandId: cid, InstanceId: 'i-nope' })))).toBeInstanceOf(InvocationDoesNotExist);
    const rec = sim.admin.ssmInstance({ accountId: ACCT, region: 'us-east-1', instanceId: ids[0]! }) as { osUsers: Record<string, { state: string }>; commands: unknown[] };
    expect(rec.osUsers['ac-bob']?.state).toBe('create');
    expect(rec.commands).toHaveLength(1);
    // An injected failure ends the command Failed.
    sim.admin.failNextCommands({ count: 1, output: 'useradd: failure' });
    const f = await ssm.send(new SendCommandCommand({ DocumentName: 'Team-LocalUser', InstanceIds: [ids[0]!], Parameters: { action: ['lock'], userName: ['ac-bob'] } }));
    sim.admin.advanceClock({ ms: 600 });
    const fi = await ssm.send(new GetCommandInvocationCommand({ CommandId: f.Command!.CommandId, InstanceId: ids[0] }));
    expect(fi).toMatchObject({ Status: 'Failed', StandardErrorContent: 'useradd: failure' });
  });

  test('sessions: describe active, terminate', async () => {
    const id = sim.admin.startSsmSession({ accountId: ACCT, region: 'us-east-1', target: 'i-0abc', owner: `arn:aws:sts::${ACCT}:assumed-role/AWSReservedSSO_Dev/alice` });
    const active = await ssm.send(new DescribeSessionsCommand({ State: 'Active', Filters: [{ key: 'Target', value: 'i-0abc' }] }));
    expect(active.Sessions?.map((s) => s.SessionId)).toEqual([id]);
    await ssm.send(new TerminateSessionCommand({ SessionId: id }));
    expect((await ssm.send(new DescribeSessionsCommand({ State: 'Active' }))).Sessions).toEqual([]);
    expect((await ssm.send(new DescribeSessionsCommand({ State: 'History' }))).Sessions?.[0]?.Status).toBe('Terminated');
  });

  test('throttling: SSM ThrottlingException under a throttle storm', async () => {
    sim.faults.throttleStorm({ service: 'ssm', durationMs: 10_000 });
    try {
      expect(await failure(ssm.send(new DescribeInstanceInformationCommand({})))).toBeInstanceOf(ThrottlingException);
    } finally { sim.faults.clear(); }
  });
});

describe('CloudTrail', () => {
  test('every mutating call is recorded with the session name; LookupEvents filters and pages (≤ 50); 2 TPS', async () => {
    const sim = await startAwsSimulator({ quotas: false });
    try {
      const creds = await member(sim, ACCT, undefined);
      const iam = new IAMClient(cfg(sim, creds));
      for (let i = 0; i < 55; i++) await iam.send(new TagRoleCommand({ RoleName: 'lambda-exec', Tags: [{ Key: 'n', Value: String(i) }] }));
      const ct = new CloudTrailClient(cfg(sim, creds));
      const first = await ct.send(new LookupEventsCommand({ LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: 'TagRole' }] }));
      expect(first.Events).toHaveLength(50);
      expect(first.Events![0]!.Username).toBe('sim-test');
      expect(first.Events![0]!.EventSource).toBe('iam.amazonaws.com');
      expect(JSON.parse(first.Events![0]!.CloudTrailEvent!).requestParameters.RoleName).toBe('lambda-exec');
      const second = await ct.send(new LookupEventsCommand({ LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: 'TagRole' }], NextToken: first.NextToken }));
      expect(second.Events).toHaveLength(5);
      // AssumeRole is logged in the role's account, under the caller's session name.
      const assumed = await ct.send(new LookupEventsCommand({ LookupAttributes: [{ AttributeKey: 'ResourceName', AttributeValue: `arn:aws:iam::${ACCT}:role/AccessConnectorMember` }] }));
      expect(assumed.Events?.[0]).toMatchObject({ EventName: 'AssumeRole', Username: 'sim-test' });
      const byUser = await ct.send(new LookupEventsCommand({ LookupAttributes: [{ AttributeKey: 'Username', AttributeValue: 'nobody' }] }));
      expect(byUser.Events).toEqual([]);
      const future = await ct.send(new LookupEventsCommand({ StartTime: new Date(Date.now() + 3600_000) }));
      expect(future.Events).toEqual([]);

      sim.admin.setQuotas({ enabled: true, refill: false });
      const burst = await Promise.allSettled(Array.from({ length: 5 }, () => ct.send(new LookupEventsCommand({}))));
      const rejected = burst.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
      // Burst 2 at 2 TPS, no refill while it is sent: 3 of 5 are refused.
      expect(rejected).toHaveLength(3);
      for (const r of rejected) expect(r.reason).toBeInstanceOf(CtThrottling);
    } finally {
      await sim.close();
    }
  });
});
