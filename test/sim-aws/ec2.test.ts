// EC2 in the simulator, on its own wire protocol (query in, `<item>` XML out, errors in
// `<Response><Errors>`), and the connector's own EC2 client reading it; IAM
// GetInstanceProfile through the SDK.
import { GetInstanceProfileCommand, IAMClient, NoSuchEntityException } from '@aws-sdk/client-iam';
import { DescribeInstancesCommand, EC2Client, parseXml, text, child } from '../../src/aws/ec2.js';
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import { cfg, failure, member, type Creds } from './helpers.js';

const ACCT = '333333333301';
const ids = (sim: AwsSimulator) => [...sim.world.accounts.get(ACCT)!.ssm.get('us-east-1')!.instances.values()].map((i) => i.id).sort();

describe('EC2', () => {
  let sim: AwsSimulator;
  let creds: Creds;
  let ec2: EC2Client;
  beforeAll(async () => {
    sim = await startAwsSimulator({ quotas: false });
    creds = await member(sim, ACCT);
    process.env.AWS_ENDPOINT_URL_EC2 = sim.url;
    const { NodeHttpHandler } = await import('@smithy/node-http-handler');
    ec2 = new EC2Client({ region: 'us-east-1', credentials: async () => creds, requestHandler: new NodeHttpHandler(), maxAttempts: 1 });
  });
  afterAll(async () => {
    delete process.env.AWS_ENDPOINT_URL_EC2;
    await sim.close();
  });

  /** A raw form POST as the EC2 query protocol sends it (the simulator reads the credential scope, not the signature). */
  async function raw(body: string, c: Creds = creds) {
    const res = await fetch(sim.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
        authorization: `AWS4-HMAC-SHA256 Credential=${c.accessKeyId}/20260101/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=0`,
        ...(c.sessionToken && { 'x-amz-security-token': c.sessionToken }),
      },
      body,
    });
    return { status: res.status, xml: await res.text() };
  }

  test('DescribeInstances answers with reservationSet/instancesSet items, profile and tags, paged by NextToken', async () => {
    for (let n = 0; n < 8; n++) sim.admin.putInstance({ accountId: ACCT, region: 'us-east-1', instanceId: `i-0c0ffee00000000${n}a` });
    const all = ids(sim);
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const out = await ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'instance-id', Values: all }], MaxResults: 5, ...(token && { NextToken: token }) }));
      seen.push(...out.Instances.map((i) => i.InstanceId));
      token = out.NextToken;
      pages++;
    } while (token);
    expect(seen.sort()).toEqual(all);
    expect(pages).toBe(Math.ceil(all.length / 5));
    const web1 = [...sim.world.accounts.get(ACCT)!.ssm.get('us-east-1')!.instances.values()].find((i) => i.name === 'web-1')!;
    const one = await ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'instance-id', Values: [web1.id] }] }));
    expect(one.Instances).toEqual([{
      InstanceId: web1.id,
      IamInstanceProfile: { Arn: `arn:aws:iam::${ACCT}:instance-profile/${web1.iamRole}`, Id: expect.stringMatching(/^AIPA/) },
      Tags: web1.tags!.map((t) => ({ Key: t.Key, Value: t.Value })),
    }]);
    // An unknown id in a filter matches nothing; named as InstanceId.N it is an error.
    expect((await ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'instance-id', Values: ['i-0000000000000000f'] }] }))).Instances).toEqual([]);
    const r = await raw('Action=DescribeInstances&Version=2016-11-15&InstanceId.1=i-0000000000000000f');
    expect(r.status).toBe(400);
    expect(text(child(child(child(parseXml(r.xml), 'Response'), 'Errors'), 'Error'), 'Code')).toBe('InvalidInstanceID.NotFound');
  });

  test('the wire shape: no Result wrapper, requestId first, lists of <item>', async () => {
    const r = await raw(`Action=DescribeInstances&Version=2016-11-15&Filter.1.Name=tag%3AName&Filter.1.Value.1=web-1`);
    expect(r.status).toBe(200);
    expect(r.xml).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<DescribeInstancesResponse xmlns="http:\/\/ec2.amazonaws.com\/doc\/2016-11-15\/"><requestId>[^<]+<\/requestId><reservationSet><item><reservationId>r-/);
    expect(r.xml).toContain('<tagSet><item><key>owner</key><value>team-1</value></item>');
  });

  test('errors: access denied, bad token, unknown filter, throttling, in EC2\'s codes', async () => {
    sim.admin.setRolePermissions({ accountId: ACCT, roleName: 'AccessConnectorMember', allow: ['iam:*'] });
    try {
      const denied = await failure(ec2.send(new DescribeInstancesCommand({})));
      expect([denied.name, denied.$metadata?.httpStatusCode]).toEqual(['UnauthorizedOperation', 403]);
    } finally {
      sim.admin.setRolePermissions({ accountId: ACCT, roleName: 'AccessConnectorMember', allow: ['iam:*', 'ssm:*', 'ec2:Describe*', 'resource-explorer-2:*', 'cloudtrail:LookupEvents'] });
    }
    expect((await raw('Action=DescribeInstances&Version=2016-11-15', { accessKeyId: 'ASIANOSUCHKEY', secretAccessKey: 'x' })).xml).toContain('<Code>AuthFailure</Code>');
    expect((await failure(ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'vpc-id', Values: ['vpc-1'] }] })))).name).toBe('InvalidParameterValue');
    sim.faults.throttleStorm({ service: 'ec2' });
    const t = await failure(ec2.send(new DescribeInstancesCommand({})));
    expect([t.name, t.$metadata?.httpStatusCode]).toEqual(['RequestLimitExceeded', 503]);
    sim.faults.clear();
  });

  test('IAM GetInstanceProfile: the profile named after its role, with the role; NoSuchEntity otherwise', async () => {
    const iam = new IAMClient(cfg(sim, creds));
    const p = (await iam.send(new GetInstanceProfileCommand({ InstanceProfileName: 'app-deployer' }))).InstanceProfile!;
    expect(p).toMatchObject({ InstanceProfileName: 'app-deployer', Arn: `arn:aws:iam::${ACCT}:instance-profile/app-deployer`, Roles: [{ RoleName: 'app-deployer', Arn: `arn:aws:iam::${ACCT}:role/app-deployer` }] });
    expect(await failure(iam.send(new GetInstanceProfileCommand({ InstanceProfileName: 'no-such-profile' })))).toBeInstanceOf(NoSuchEntityException);
  });
});
