// Accounts that are not ACTIVE (SUSPENDED, PENDING_CLOSURE, CLOSED) cannot be entered, as in
// AWS: AssumeRole into one of their roles is AccessDenied with the ordinary "not authorized
// to perform: sts:AssumeRole" message (AWS gives no hint that the account is the reason),
// and credentials issued before the account left ACTIVE stop being accepted: IAM and the
// other services answer InvalidClientTokenId, as for credentials AWS does not know.
import { IAMClient, ListRolesCommand, GetAccountAuthorizationDetailsCommand } from '@aws-sdk/client-iam';
import { SSMClient, DescribeInstanceInformationCommand } from '@aws-sdk/client-ssm';
import { OrganizationsClient, paginateListAccounts } from '@aws-sdk/client-organizations';
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import type { AccountState } from '../sim/aws/world.js';
import { cfg, failure, management, member, memberRoleArn } from './helpers.js';

const SUSPENDED = '666666666666';
const ACTIVE = '333333333301';

describe('accounts that are not ACTIVE', () => {
  let sim: AwsSimulator;
  beforeAll(async () => {
    sim = await startAwsSimulator({ quotas: false });
  });
  afterAll(() => sim.close());

  test('AssumeRole into a SUSPENDED account: AccessDenied (403), the message of any refused AssumeRole', async () => {
    expect(sim.world.accounts.get(SUSPENDED)!.state).toBe('SUSPENDED');
    expect(sim.world.accounts.get(SUSPENDED)!.iam.roles.has('AccessConnectorMember')).toBe(true);
    const mgmt = await management(sim);
    const e = await failure(member(sim, SUSPENDED, mgmt));
    expect([e.name, e.$metadata?.httpStatusCode]).toEqual(['AccessDenied', 403]);
    expect(e.message).toBe(`User: arn:aws:sts::111111111111:assumed-role/AccessConnectorManagement/sim-test is not authorized to perform: sts:AssumeRole on resource: ${memberRoleArn(SUSPENDED)}`);
    // The organization still lists it, as SUSPENDED.
    const org = new OrganizationsClient(cfg(sim, mgmt));
    const states = new Map<string, string>();
    for await (const p of paginateListAccounts({ client: org }, {})) for (const a of p.Accounts ?? []) states.set(a.Id!, a.State!);
    expect(states.get(SUSPENDED)).toBe('SUSPENDED');
  });

  test.each(['SUSPENDED', 'PENDING_CLOSURE', 'CLOSED'] as const)('an account that becomes %s: no new role session, and the open ones stop working (InvalidClientTokenId)', async (state: AccountState) => {
    const account = sim.world.accounts.get(ACTIVE)!;
    const mgmt = await management(sim);
    const creds = await member(sim, ACTIVE, mgmt);
    const iam = new IAMClient(cfg(sim, creds));
    const ssm = new SSMClient(cfg(sim, creds));
    expect((await iam.send(new ListRolesCommand({}))).Roles?.length).toBeGreaterThan(0);
    account.state = state;
    try {
      const invalid = 'The security token included in the request is invalid.';
      for (const call of [iam.send(new ListRolesCommand({})), iam.send(new GetAccountAuthorizationDetailsCommand({}))]) {
        const e = await failure(call);
        expect([e.name, e.message, e.$metadata?.httpStatusCode]).toEqual(['InvalidClientTokenId', invalid, 403]);
      }
      const e = await failure(ssm.send(new DescribeInstanceInformationCommand({})));
      expect([e.name, e.message, e.$metadata?.httpStatusCode]).toEqual(['UnrecognizedClientException', invalid, 400]);
      expect((await failure(member(sim, ACTIVE, mgmt))).name).toBe('AccessDenied');
    } finally {
      account.state = 'ACTIVE';
    }
    // Back to ACTIVE (a suspended account reinstated within its 90 days): the same session works again.
    expect((await iam.send(new ListRolesCommand({}))).Roles?.length).toBeGreaterThan(0);
  });
});
