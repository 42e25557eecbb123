// The credential broker keeps a source per role it assumed; a sync assumes the member role
// of every account of the organization, and the daemon outlives the sync.
import { AwsClients } from '../../src/aws/clients.js';
import { CredentialBroker, MAX_CREDENTIAL_SOURCES } from '../../src/aws/credentials.js';
import { declaredActions } from '../../src/permissions.js';
import { captureLog } from '../helpers/log.js';

test('sources are bounded, and the ones in use are kept', () => {
  const { log } = captureLog('debug');
  const clients = new AwsClients({ declaredActions: declaredActions(), userAgent: 'access-connector/test', quotaShare: 1, log });
  const broker = new CredentialBroker({ clients, connectorId: 'conn-test', log, region: 'us-east-1' });
  const base = broker.base();
  const mgmt = () => broker.assume('arn:aws:iam::111111111111:role/Management', broker.base(), 'ext');
  const first = mgmt();
  const oldest = 'arn:aws:iam::200000000000:role/Member';
  const oldestSource = broker.assume(oldest, mgmt(), undefined, 'member');
  for (let i = 1; i < 5000; i++) {
    // As a sync does: the management identity for every member hop.
    broker.assume(`arn:aws:iam::${String(200000000000 + i)}:role/Member`, mgmt(), undefined, 'member');
  }
  expect(broker.size).toBe(MAX_CREDENTIAL_SOURCES);
  // The oldest member role was let go: asking again makes a new source, which is then kept.
  const again = broker.assume(oldest, mgmt(), undefined, 'member');
  expect(again).not.toBe(oldestSource);
  expect(broker.assume(oldest, mgmt(), undefined, 'member')).toBe(again);
  expect(broker.size).toBe(MAX_CREDENTIAL_SOURCES);
  expect(mgmt()).toBe(first);
  expect(broker.base()).toBe(base);
  clients.destroy();
});
