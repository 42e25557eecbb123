// The connector's entity ids and the simulator's ground-truth ids are written separately on
// purpose (an emulator must not share code with what it checks); this keeps them equal.
import { ids } from '../../src/sync/ids.js';
import { entityIds } from '../sim/aws/entity-ids.js';

test('the connector and the simulator build the same id for every kind, in every partition', () => {
  for (const p of ['aws', 'aws-us-gov', 'aws-cn']) {
    const org = { managementAccountId: '111111111111', id: 'o-abc123' };
    const cases: Array<[string, string]> = [
      [ids.account(p, '222222222222', org), entityIds.account(p, '222222222222', org)],
      [ids.account(p, '222222222222'), entityIds.account(p, '222222222222')],
      [ids.ssoUser(p, 'u-1'), entityIds.ssoUser(p, 'u-1')],
      [ids.ssoGroup(p, 'g-1'), entityIds.ssoGroup(p, 'g-1')],
      [ids.ssoGroupMembership(p, 'm-1'), entityIds.ssoGroupMembership(p, 'm-1')],
      [ids.managedInstance(p, 'eu-west-1', '222222222222', 'i-1'), entityIds.managedInstance(p, 'eu-west-1', '222222222222', 'i-1')],
      [ids.accessKey(`arn:${p}:iam::2:user/a`, 'AKIA1'), entityIds.accessKey(`arn:${p}:iam::2:user/a`, 'AKIA1')],
      [ids.accountAssignment(`arn:${p}:sso:::permissionSet/i/ps`, '2', 'USER', 'u'), entityIds.accountAssignment(`arn:${p}:sso:::permissionSet/i/ps`, '2', 'USER', 'u')],
      [ids.effectiveAccess(`arn:${p}:sso:::permissionSet/i/ps`, '2', 'u', 'direct'), entityIds.effectiveAccess(`arn:${p}:sso:::permissionSet/i/ps`, '2', 'u')],
      [ids.effectiveAccess(`arn:${p}:sso:::permissionSet/i/ps`, '2', 'u', { groupId: 'g' }), entityIds.effectiveAccess(`arn:${p}:sso:::permissionSet/i/ps`, '2', 'u', 'g')],
      [ids.permissionSetPolicy(`arn:${p}:sso:::permissionSet/i/ps`, `arn:${p}:iam::aws:policy/ReadOnlyAccess`), entityIds.permissionSetPolicy(`arn:${p}:sso:::permissionSet/i/ps`, `arn:${p}:iam::aws:policy/ReadOnlyAccess`)],
      [ids.groupPolicy(`arn:${p}:iam::2:group/g`, `arn:${p}:iam::aws:policy/ReadOnlyAccess`), entityIds.groupPolicy(`arn:${p}:iam::2:group/g`, `arn:${p}:iam::aws:policy/ReadOnlyAccess`)],
    ];
    for (const [ours, theirs] of cases) expect(ours).toBe(theirs);
    expect(ids.account(p, '2', org)).toMatch(new RegExp(`^arn:${p}:`));
  }
});
