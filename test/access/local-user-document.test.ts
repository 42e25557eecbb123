// The connector's ec2.localUser Command document itself (src/access/documents/local-user.json),
// run as root on a real Linux user database in a private mount namespace (test/helpers/linux-host.ts):
// access ends at revoke whatever the OS user wrote in its home. The record of which keys the
// connector installed for which grant is root-only and outside the home; the user's forged
// tagged lines, extra keys, a replaced authorized_keys, a symlink in its place or in place of
// ~/.ssh never keep the account open, never make the connector write through a link, and
// never keep cleanup from deleting the user.
import { generateKeyPairSync } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Ledger } from '../../src/access/ledger.js';
import { accessParamsSchema } from '../../src/access/params.js';
import { runGrant, runRevoke, type AccessDeps } from '../../src/access/run-access.js';
import { sweepOnce } from '../../src/access/sweeper.js';
import { AwsRuntime } from '../../src/aws/runtime.js';
import type { Config } from '../../src/config.js';
import { integrationSchema } from '../../src/protocol/messages.js';
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import { demoIntegration } from '../sim/aws/worlds/demo.js';
import { useAwsEnv } from '../helpers/aws.js';
import { captureLog } from '../helpers/log.js';
import { testConfig } from '../helpers/config.js';
import { LinuxHost } from '../helpers/linux-host.js';
import { declaredActions } from '../../src/permissions.js';

const sshString = (b: Buffer | string) => {
  const v = typeof b === 'string' ? Buffer.from(b) : b;
  const n = Buffer.alloc(4);
  n.writeUInt32BE(v.length);
  return Buffer.concat([n, v]);
};
function ed25519(): string {
  const raw = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  return `ssh-ed25519 ${Buffer.concat([sshString('ssh-ed25519'), sshString(raw)]).toString('base64')}`;
}
const [K1, K2, K3] = [ed25519(), ed25519(), ed25519()];
const USER = 'ac-alice';
const OWNER = '0123456789abcdef0123456789abcdef';
const TAG_A = 'a'.repeat(32);
const TAG_B = 'b'.repeat(32);
const FORGED = 'f'.repeat(32);

let host: LinuxHost;
const PROD = '333333333301';

function run(action: string, tag = '', key = ''): Record<string, string> {
  const r = host.document({ action, userName: USER, owner: OWNER, accessTag: tag, sshPublicKey: key });
  expect({ action, code: r.code, stderr: r.stderr }).toEqual({ action, code: 0, stderr: '' });
  const line = r.stdout.split('\n').find((l) => l.startsWith('access-connector-result: '))!;
  return Object.fromEntries(line.slice('access-connector-result: '.length).trim().split(/\s+/).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
}
const grant = (tag: string, key: string) => run('grant', tag, key);
const revoke = (tag: string) => run('revoke', tag);
const as = (cmd: string) => {
  const r = host.asUser(USER, cmd);
  expect({ cmd, code: r.code, stderr: r.stderr }).toEqual({ cmd, code: 0, stderr: '' });
  return r.stdout;
};
/** What sshd would accept for the user: the key lines of the files it reads, read as the user. */
const usableKeys = () => host.asUser(USER, 'cat .ssh/authorized_keys .ssh/authorized_keys2 2>/dev/null; true').stdout.split('\n').filter((l) => l.trim() !== '');
/** Password locked (`!`) and account expired (day 1): no login of any kind, keys or not. */
function locked(): boolean {
  const s = host.root('getent shadow "$1" | cut -d: -f2,8', USER).stdout.trim();
  return s.startsWith('!') && s.endsWith(':1');
}
const exists = () => host.root('getent passwd "$1"', USER).code === 0;
const lineOf = (key: string, tag: string) => `${key} access-connector:${tag}`;

describe('ec2.localUser document on a real Linux user database (root, private namespaces)', () => {
  beforeEach(() => {
    host = new LinuxHost();
  });
  afterEach(() => host.close());

  test('grant, revoke, delete: the key works while granted; revoke locks with no key; delete removes the user', () => {
    expect(grant(TAG_A, K1)).toMatchObject({ action: 'grant', user: 'present', managed: 'yes', owner: 'match', key: 'yes', locked: 'no', keys: '1', created: 'yes' });
    expect(usableKeys()).toEqual([lineOf(K1, TAG_A)]);
    expect(locked()).toBe(false);
    expect(host.asUser(USER, 'stat -c %a .ssh .ssh/authorized_keys').stdout.split('\n').slice(0, 2)).toEqual(['700', '600']);
    expect(revoke(TAG_A)).toMatchObject({ user: 'present', key: 'no', locked: 'yes', keys: '0' });
    expect(locked()).toBe(true);
    expect(usableKeys()).toEqual([]);
    // A later grant opens the same account again, with its own key only.
    expect(grant(TAG_B, K2)).toMatchObject({ key: 'yes', locked: 'no', keys: '1', created: 'no' });
    expect(usableKeys()).toEqual([lineOf(K2, TAG_B)]);
    expect(locked()).toBe(false);
    revoke(TAG_B);
    expect(run('delete')).toMatchObject({ user: 'absent' });
    expect(exists()).toBe(false);
  });

  test('the record of installed keys is root-only, outside the home, and the user can neither read nor change it', () => {
    grant(TAG_A, K1);
    expect(host.root('stat -c "%U %a" /var/lib/access-connector /var/lib/access-connector/keys /var/lib/access-connector/keys/ac-alice').stdout.trim().split('\n'))
      .toEqual(['root 700', 'root 700', 'root 600']);
    expect(host.root('cat /var/lib/access-connector/keys/ac-alice').stdout).toBe(`${TAG_A} ${K1}\n`);
    expect(host.asUser(USER, 'cat /var/lib/access-connector/keys/ac-alice').code).not.toBe(0);
    expect(host.asUser(USER, `echo '${FORGED} ${K2}' >> /var/lib/access-connector/keys/ac-alice`).code).not.toBe(0);
  });

  test('the record\'s directories must be root\'s own: a link in their place is refused, nothing written through it', () => {
    expect(host.root('mkdir -p /var/lib/access-connector /home/elsewhere && ln -s /home/elsewhere /var/lib/access-connector/keys').code).toBe(0);
    const r = host.document({ action: 'grant', userName: USER, owner: OWNER, accessTag: TAG_A, sshPublicKey: K1 });
    expect(r).toMatchObject({ code: 4, stderr: 'access-connector: /var/lib/access-connector/keys is not a directory owned by root; access-connector will not use it\n' });
    expect(exists()).toBe(false);
    expect(host.root('ls -A /home/elsewhere').stdout).toBe('');
  });

  // Regression: revoke counted tagged lines in authorized_keys, so a forged tag kept the account open.
  test('forged tagged lines and extra keys: revoke still locks and leaves no key', () => {
    grant(TAG_A, K1);
    as(`printf '%s\\n' '${lineOf(K2, FORGED)}' '${K3} laptop' >> .ssh/authorized_keys`);
    expect(revoke(TAG_A)).toMatchObject({ locked: 'yes', keys: '0' });
    expect(locked()).toBe(true);
    expect(usableKeys()).toEqual([]);
  });

  // Regression: a replaced authorized_keys holding only forged lines kept the account open.
  test('authorized_keys replaced by the user (new file, forged lines, authorized_keys2): revoke locks, no key left', () => {
    grant(TAG_A, K1);
    as(`printf '%s\\n' '${lineOf(K2, FORGED)}' > .ssh/new && mv -f .ssh/new .ssh/authorized_keys && printf '%s\\n' '${K3}' > .ssh/authorized_keys2`);
    expect(revoke(TAG_A)).toMatchObject({ locked: 'yes' });
    expect(locked()).toBe(true);
    expect(usableKeys()).toEqual([]);
  });

  // Regression: a symlink the user planted must never be followed or kept.
  test('a symlink in place of authorized_keys or of ~/.ssh: nothing is written through it, revoke locks, no key left', () => {
    const passwd = host.root('cat /etc/passwd').stdout;
    grant(TAG_A, K1);
    as('mkdir -p keys && printf "%s\\n" "' + lineOf(K2, FORGED) + '" > keys/authorized_keys && rm -f .ssh/authorized_keys && ln -s ../keys/authorized_keys .ssh/authorized_keys');
    expect(usableKeys()).toEqual([lineOf(K2, FORGED)]); // sshd would follow it
    // A grant puts back a plain file holding the grants' keys only; the link's target is left alone.
    expect(grant(TAG_B, K2)).toMatchObject({ key: 'yes', keys: '2' });
    expect(as('test ! -L .ssh/authorized_keys && test -f .ssh/authorized_keys && cat keys/authorized_keys')).toBe(`${lineOf(K2, FORGED)}\n`);
    expect(usableKeys()).toEqual([lineOf(K1, TAG_A), lineOf(K2, TAG_B)]);

    as('rm -f .ssh/authorized_keys && ln -s /etc/passwd .ssh/authorized_keys');
    expect(revoke(TAG_A)).toMatchObject({ locked: 'no', keys: '1' });
    expect(usableKeys()).toEqual([lineOf(K2, TAG_B)]);
    as('rm -rf .ssh && ln -s /etc .ssh');
    expect(revoke(TAG_B)).toMatchObject({ locked: 'yes', keys: '0' });
    expect(locked()).toBe(true);
    expect(usableKeys()).toEqual([]);
    expect(as('test ! -e .ssh && test ! -L .ssh && echo gone')).toBe('gone\n');
    expect(host.root('cat /etc/passwd').stdout.split('\n').filter((l) => !l.startsWith(`${USER}:`))).toEqual(passwd.split('\n'));
  });

  // Regression: with another grant's line in authorized_keys, revoke kept what the user had added.
  test('overlapping grants: revoking one leaves exactly the other\'s key; revoking the last locks, whatever the user added meanwhile', () => {
    grant(TAG_A, K1);
    grant(TAG_B, K2);
    expect(usableKeys()).toEqual([lineOf(K1, TAG_A), lineOf(K2, TAG_B)]);
    as(`printf '%s\\n' '${lineOf(K3, FORGED)}' '${K3}' >> .ssh/authorized_keys`);
    expect(revoke(TAG_A)).toMatchObject({ locked: 'no', keys: '1' });
    expect(usableKeys()).toEqual([lineOf(K2, TAG_B)]);
    as(`printf '%s\\n' '${lineOf(K3, FORGED)}' '${lineOf(K1, TAG_A)}' >> .ssh/authorized_keys`);
    expect(revoke(TAG_B)).toMatchObject({ locked: 'yes', keys: '0' });
    expect(locked()).toBe(true);
    expect(usableKeys()).toEqual([]);
  });

  // Regression: delete kept the user ("in use") while authorized_keys held any tagged line.
  test('delete removes the user whatever its home holds, and keeps it only while a grant is recorded', () => {
    grant(TAG_A, K1);
    grant(TAG_B, K2);
    revoke(TAG_A);
    expect(run('delete')).toMatchObject({ kept: 'in-use', user: 'present' });
    revoke(TAG_B);
    as(`mkdir -p .ssh && printf '%s\\n' '${lineOf(K2, FORGED)}' > .ssh/authorized_keys`);
    expect(run('delete')).toMatchObject({ user: 'absent' });
    expect(exists()).toBe(false);
    expect(host.root('ls -A /home /var/lib/access-connector/users /var/lib/access-connector/keys').stdout.split('\n').filter((l) => l && !l.endsWith(':'))).toEqual([]);
  });

  test('describe reports the key only when the record holds it and authorized_keys still has it', () => {
    grant(TAG_A, K1);
    expect(run('describe', TAG_A, K1)).toMatchObject({ key: 'yes', keys: '1' });
    expect(run('describe', FORGED, K2)).toMatchObject({ key: 'no' });
    as(`printf '%s\\n' '${lineOf(K2, FORGED)}' >> .ssh/authorized_keys`);
    expect(run('describe', FORGED, K2)).toMatchObject({ key: 'no', keys: '1' });
    as('rm .ssh/authorized_keys');
    expect(run('describe', TAG_A, K1)).toMatchObject({ key: 'no', keys: '1' });
  });
});

// End to end: the runner (ledger, kind) → the simulator's SSM → the real document on two Linux
// hosts standing for web-1 and web-2. What the user does between grant and revoke is what the
// tests above do on one host; the connector's revoke and the sweeper's cleanup must hold.
describe('ec2.localUser end to end: runner, simulator SSM, the document on real hosts', () => {
  let sim: AwsSimulator;
  let restore: () => void;
  let clock = Date.now();
  const hosts = new Map<string, LinuxHost>();
  const runtimes: AwsRuntime[] = [];
  const logs = captureLog('debug');
  const integration = integrationSchema.parse(demoIntegration({ userCleanupAfterDays: 7 }));

  function deps(): AccessDeps {
    const aws = new AwsRuntime({ declaredActions: declaredActions(), connectorId: 'conn-test', log: logs.log, quotaShare: 1 });
    runtimes.push(aws);
    const client = aws.clients.get(DynamoDBClient, { region: 'us-east-1', accountId: 'self', credentials: aws.broker('us-east-1').base() });
    const ledger = new Ledger({ client, table: 'access-connector-ledger', owner: `test-${runtimes.length}`, now: () => clock });
    return { aws, ledger, config: testConfig() as Config, log: logs.log, now: () => clock };
  }
  const job = (d: AccessDeps, grantId: string, sshPublicKey: string) => ({
    jobId: `job-${grantId}-${Math.random()}`, integration, signal: new AbortController().signal, log: d.log,
    request: accessParamsSchema.parse({
      grantId, accessKind: 'ec2.localUser', principal: { type: 'user', id: 'p-alice', userName: 'alice@example.com' },
      target: { accountId: PROD, region: 'us-east-1', instanceIds: [...hosts.keys()], sshPublicKey },
    }),
  });

  beforeAll(async () => {
    sim = await startAwsSimulator({ world: 'demo', ssm: { commandDelayMs: 100, localUserOn: (id, params) => hosts.get(id)?.document(params) } });
    restore = useAwsEnv(sim.env);
    for (const i of sim.world.accounts.get(PROD)!.ssm.get('us-east-1')!.instances.values()) {
      if (i.name === 'web-1' || i.name === 'web-2') hosts.set(i.id, new LinuxHost());
    }
  });
  afterAll(async () => {
    for (const r of runtimes) r.destroy();
    restore();
    await sim.close();
    for (const h of hosts.values()) h.close();
  });

  // Regression: the connector reported the grant revoked while forged lines kept the account open.
  test('forged lines, extra keys, a replaced authorized_keys and a symlink: revoke locks everywhere, cleanup deletes the user', async () => {
    const d = deps();
    expect(await runGrant(d, job(d, 'g-e2e-1', K1))).toMatchObject({ state: 'granted' });
    expect(await runGrant(d, job(d, 'g-e2e-2', K2))).toMatchObject({ state: 'granted' });
    const [h1, h2] = [...hosts.values()] as [LinuxHost, LinuxHost];
    for (const h of [h1, h2]) {
      expect(h.asUser(USER, 'cat .ssh/authorized_keys').stdout.split('\n').filter(Boolean)).toHaveLength(2);
      expect(h.asUser(USER, `printf '%s\\n' '${lineOf(K3, FORGED)}' '${K3} laptop' >> .ssh/authorized_keys`).code).toBe(0);
    }
    // One grant revoked: the other's key stays, and nothing the user added.
    expect(await runRevoke(d, { ...job(d, 'g-e2e-1', K1), origin: 'job' })).toMatchObject({ state: 'revoked' });
    for (const h of [h1, h2]) {
      expect(h.asUser(USER, 'cat .ssh/authorized_keys .ssh/authorized_keys2 2>/dev/null; true').stdout.split('\n').filter(Boolean)).toEqual([expect.stringMatching(new RegExp(`^${K2.replace(/[+/]/g, '\\$&')} access-connector:[0-9a-f]{32}$`))]);
    }
    // The user replaces authorized_keys on one host and plants a symlink on the other.
    expect(h1.asUser(USER, `printf '%s\\n' '${lineOf(K3, FORGED)}' > .ssh/n && mv -f .ssh/n .ssh/authorized_keys && printf '%s\\n' '${K3}' > .ssh/authorized_keys2`).code).toBe(0);
    expect(h2.asUser(USER, `mkdir -p k && printf '%s\\n' '${lineOf(K3, FORGED)}' > k/ak && rm .ssh/authorized_keys && ln -s ../k/ak .ssh/authorized_keys`).code).toBe(0);
    const last = await runRevoke(d, { ...job(d, 'g-e2e-2', K2), origin: 'job' });
    expect(last).toMatchObject({ state: 'revoked' });
    expect(last.note).toMatch(/ac-alice locked on .*processes \(open SSH sessions\) ended/);
    for (const h of [h1, h2]) {
      expect(h.root('getent shadow "$1" | cut -d: -f2,8', USER).stdout.trim()).toMatch(/^!.*:1$/);
      expect(h.asUser(USER, 'cat .ssh/authorized_keys .ssh/authorized_keys2 2>/dev/null; true').stdout).toBe('');
    }
    // Whatever the home holds when the cleanup comes, the user is deleted.
    for (const h of [h1, h2]) expect(h.asUser(USER, `mkdir -p .ssh && printf '%s\\n' '${lineOf(K3, FORGED)}' > .ssh/authorized_keys`).code).toBe(0);
    clock += 8 * 86_400_000;
    expect(await sweepOnce(d, logs.log)).toMatchObject({ failed: 0 });
    for (const h of [h1, h2]) expect(h.root('getent passwd "$1"', USER).code).not.toBe(0);
  });
});
