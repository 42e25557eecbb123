// ec2.localUser against the AWS simulator (demo world), whose SSM models the connector's own
// Command document on each instance's OS users: grant creates `ac-<name>` with the key on
// every instance, revoke removes the key and locks, cleanup deletes; users the connector did
// not create are never touched; hostile input never reaches AWS, and the deployed document
// refuses it even when sent directly.
import { createHash, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { InvalidParameters, SendCommandCommand, SSMClient } from '@aws-sdk/client-ssm';
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import type { ManagedInstance, OsUser, SsmCommand } from '../sim/aws/world.js';
import { awsErrorCode } from '../../src/aws/errors.js';
import { ConnectorError } from '../../src/errors.js';
import type { AccessContext, AccessRequest, Principal } from '../../src/access/types.js';
import {
  ACTIONS, DIGEST_PATTERN, LOCAL_USER_DOCUMENT, OS_USER_PATTERN, SSH_KEY_PATTERN, ec2LocalUser as kind, osUserName, parseSshKey,
} from '../../src/access/kinds/ec2-local-user.js';
import { accessContextFor } from '../helpers/access.js';
import { destroyAwsLayers, useAwsEnv } from '../helpers/aws.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { until } from '../helpers/wait.js';

type Target = { accountId: string; region: string; instanceIds: string[]; sshPublicKey: string };
const PROD = '333333333301';
const MGMT = '111111111111';
const EAST = 'us-east-1';

// ---- real keys, in the SSH wire format (RFC 4253 §6.6) ----
const sshString = (b: Buffer | string) => {
  const v = typeof b === 'string' ? Buffer.from(b) : b;
  const n = Buffer.alloc(4);
  n.writeUInt32BE(v.length);
  return Buffer.concat([n, v]);
};
const mpint = (b64url: string) => {
  const v = Buffer.from(b64url, 'base64url');
  return sshString(v[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), v]) : v);
};
function ed25519(): string {
  const raw = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  return `ssh-ed25519 ${Buffer.concat([sshString('ssh-ed25519'), sshString(raw)]).toString('base64')}`;
}
function rsa(bits: number): string {
  const jwk = generateKeyPairSync('rsa', { modulusLength: bits }).publicKey.export({ format: 'jwk' });
  return `ssh-rsa ${Buffer.concat([sshString('ssh-rsa'), mpint(jwk.e!), mpint(jwk.n!)]).toString('base64')}`;
}
function ecdsa(): string {
  const jwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
  const q = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
  return `ecdsa-sha2-nistp256 ${Buffer.concat([sshString('ecdsa-sha2-nistp256'), sshString('nistp256'), sshString(q)]).toString('base64')}`;
}
const K1 = ed25519();
const K2 = ed25519();
const fingerprint = (k: string) => `SHA256:${createHash('sha256').update(Buffer.from(k.split(' ')[1]!, 'base64')).digest('base64').replace(/=+$/, '')}`;

let sim: AwsSimulator;
let restore: () => void;
let ctx: AccessContext;
let web1: string;
let web2: string;
let bastion: string;

const inst = (name: string, accountId = PROD, region = EAST): ManagedInstance =>
  [...sim.world.accounts.get(accountId)!.ssm.get(region)!.instances.values()].find((i) => i.name === name)!;
const byId = (id: string, accountId = PROD, region = EAST): ManagedInstance => sim.world.accounts.get(accountId)!.ssm.get(region)!.instances.get(id)!;
const osUser = (id: string, name: string): OsUser | undefined => byId(id).osUsers[name];
const calls = (op: string) => sim.stats.snapshot().byOperation[op]?.calls ?? 0;
const ssmCalls = () => Object.entries(sim.stats.snapshot().byOperation).filter(([k]) => k.startsWith('ssm:')).reduce((n, [, c]) => n + c.calls, 0);
const tagOf = (req: AccessRequest<Target>) => createHash('sha256').update(kind.accessKey(req)).digest('hex').slice(0, 32);
const line = (req: AccessRequest<Target>, key = req.target.sshPublicKey) => `${key.split(' ').slice(0, 2).join(' ')} access-connector:${tagOf(req)}`;

function person(userName: string, id = `id-${userName}`): Principal {
  return { type: 'user', id, userName };
}
function request(principal: Principal, instanceIds: string[], sshPublicKey = K1, grantId = 'g-lu-1', accountId = PROD, region = EAST): AccessRequest<Target> {
  return { grantId, accessKind: 'ec2.localUser', principal, target: { accountId, region, instanceIds, sshPublicKey } };
}
async function rejection(p: Promise<unknown>): Promise<ConnectorError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ConnectorError);
  return err as ConnectorError;
}
/** What the runner does for a grant: facts, describe, then grant when absent. */
async function grant(req: AccessRequest<Target>, c: AccessContext = ctx): Promise<Record<string, unknown>> {
  await kind.facts(c, req);
  const before = await kind.describe(c, req);
  const kept = before.present ? undefined : await kind.grant(c, req, before);
  return { ...(before.observed ?? {}), ...(kept ?? {}) };
}

describe('ec2.localUser (simulator, SSM commands take 200 ms)', () => {
  beforeAll(async () => {
    sim = await startAwsSimulator({ world: 'demo', ssm: { commandDelayMs: 200 } });
    restore = useAwsEnv(sim.env);
    ctx = accessContextFor(sim);
    web1 = inst('web-1').id;
    web2 = inst('web-2').id;
    bastion = inst('bastion').id;
  });
  afterAll(async () => {
    destroyAwsLayers();
    restore();
    await sim.close();
  });

  describe('input', () => {
    test('hostile keys, user names and targets are rejected before any AWS call', async () => {
      sim.stats.reset();
      const badKeys = [
        'ssh-ed25519 AAAA; rm -rf /',
        `${K1}; rm -rf /`,
        `${K1} ; rm -rf /`,
        `${K1} $(id)`,
        `${K1} \`id\``,
        `${K1} alice laptop`,
        `${K1}\nssh-rsa AAAAB3NzaC1yc2E`,
        `${K1}\n`,
        `${K1}\r`,
        `ssh-ed25519\t${K1.split(' ')[1]}`,
        ` ${K1}`,
        `${K1} ${'c'.repeat(101)}`,
        `ssh-ed25519 ${'A'.repeat(10_240)}`,
        'ssh-dss AAAAB3NzaC1kc3MAAACBAP',
        `ssh-rsa ${K1.split(' ')[1]}`, // ed25519 data under another type
        `ssh-ed25519 ${K1.split(' ')[1]!.slice(0, -4)}`, // truncated key data
        `ssh-ed25519 ${K1.split(' ')[1]}==`, // not canonical base64
        rsa(1024),
        "ssh-ed25519 AAAA'\"",
        '',
      ];
      for (const k of badKeys) {
        expect({ k, ok: kind.target.safeParse({ accountId: PROD, region: EAST, instanceIds: [web1], sshPublicKey: k }).success }).toEqual({ k, ok: false });
      }
      const badNames = ['../../root', '$(id)', '`id`', 'bob;rm -rf /', 'bob\nroot', 'bob root', 'bob/../root', '"}]', '', '-bob', '1bob', '_bob', '@example.com', '..', 'a'.repeat(10_240), 'bob\u0000', 'bøb'];
      for (const n of badNames) expect({ n, msg: typeof kind.checkPrincipal!(person(n)) }).toEqual({ n, msg: 'string' });
      expect(kind.checkPrincipal!({ type: 'user', id: 'x' })).toMatch(/userName is required/);
      expect(kind.checkPrincipal!({ type: 'group', id: 'x', userName: 'bob' })).toMatch(/user/);
      const ok = { accountId: PROD, region: EAST, instanceIds: [web1], sshPublicKey: K1 };
      const badTargets: unknown[] = [
        { ...ok, instanceIds: ['i-123;rm'] }, { ...ok, instanceIds: ['../'] }, { ...ok, instanceIds: ['i-*'] }, { ...ok, instanceIds: [] },
        { ...ok, instanceIds: [web1, web1] }, { ...ok, instanceIds: Array.from({ length: 51 }, (_, i) => `i-${i.toString(16).padStart(17, '0')}`) },
        { ...ok, instanceIds: [`i-${'a'.repeat(10_000)}`] }, { ...ok, region: '../' }, { ...ok, region: 'us-east-1; rm' }, { ...ok, accountId: '3333' },
        { ...ok, accountId: '"}]' }, { ...ok, extra: 1 }, { accountId: PROD, region: EAST, instanceIds: [web1] },
      ];
      for (const t of badTargets) expect(kind.target.safeParse(t).success).toBe(false);

      // Called directly (not through the runner's parser), every entry point refuses too.
      const attempts: AccessRequest<Target>[] = [
        ...badKeys.map((k) => request(person('alice'), [web1], k)),
        ...badNames.map((n) => request(person(n), [web1])),
        request(person('alice'), ['i-123;rm']),
      ];
      for (const req of attempts) {
        for (const call of [
          () => kind.facts(ctx, req), () => kind.describe(ctx, req), () => kind.grant(ctx, req, { present: false }),
          () => kind.revoke(ctx, req, {}), () => kind.cleanup!(ctx, req, {}),
        ]) expect((await rejection(call())).code).toBe('JOB_PARAMS_INVALID');
      }
      expect(ssmCalls()).toBe(0);
      expect(calls('ssm:SendCommand')).toBe(0);
      expect(sim.stats.snapshot().total.calls).toBe(0);
    });

    test('user names become ac-<local part>, lowercased, with . + = , as -, at most 32 characters', () => {
      const cases: [string, string][] = [
        ['bob', 'ac-bob'], ['Alice.Smith@Example.com', 'ac-alice-smith'], ['o_connor', 'ac-o_connor'], ['x+y=z,w', 'ac-x-y-z-w'],
        ['Carol-Ann', 'ac-carol-ann'], [`${'l'.repeat(40)}@example.com`, `ac-${'l'.repeat(29)}`],
      ];
      for (const [from, to] of cases) {
        expect(osUserName(from)).toEqual({ name: to });
        expect(to).toMatch(new RegExp(OS_USER_PATTERN));
      }
    });

    test('key types: ed25519, ecdsa-sha2-nistp256 and RSA ≥ 2048; a one-word comment is dropped', () => {
      for (const k of [K1, ecdsa(), rsa(2048)]) {
        const p = parseSshKey(k) as { key: string; fingerprint: string };
        expect(p.key).toBe(k);
        expect(p.key).toMatch(new RegExp(SSH_KEY_PATTERN));
        expect(p.fingerprint).toBe(fingerprint(k));
        expect(parseSshKey(`${k} alice@laptop.example`)).toEqual(parseSshKey(k));
      }
      const withComment = request(person('alice', 'p-1'), [web1], `${K1} alice@laptop`);
      expect(kind.accessKey(withComment)).toBe(kind.accessKey(request(person('alice', 'p-1'), [web1], K1)));
    });

    test('accessKey: order-free, comment-free, bounded; another key, instance set or person is other access; one lock per OS user', () => {
      const alice = person('alice', 'p-alice');
      const a = request(alice, [web1, web2]);
      expect(kind.accessKey(request(alice, [web2, web1], `${K1} laptop`))).toBe(kind.accessKey(a));
      for (const other of [request(alice, [web1, web2], K2), request(alice, [web1]), request(person('alice', 'p-other'), [web1, web2]), request(alice, [web1, web2], K1, 'g', PROD, 'eu-west-1')]) {
        expect(kind.accessKey(other)).not.toBe(kind.accessKey(a));
      }
      expect(kind.accessKey(a)).toContain(fingerprint(K1));
      expect(kind.accessKey(a)).not.toContain(K1.split(' ')[1]!);
      expect(kind.lockKey!(request(alice, [web1], K2))).toBe(kind.lockKey!(a));
      const big = request(person('alice', 'x'.repeat(2048)), Array.from({ length: 50 }, (_, i) => `i-${i.toString(16).padStart(17, '0')}`));
      expect(kind.accessKey(big).length).toBeLessThan(200);
    });
  });

  describe('the Command document', () => {
    const raw = readFileSync(resolve(REPO_ROOT, 'src/access/documents/local-user.json'), 'utf8');
    const doc = JSON.parse(raw) as {
      schemaVersion: string;
      parameters: Record<string, { type: string; allowedPattern?: string; allowedValues?: string[]; default?: string; interpolationType?: string }>;
      mainSteps: { action: string; precondition?: unknown; inputs: { runCommand: string[] } }[];
    };
    const script = doc.mainSteps.map((s) => s.inputs.runCommand.join('\n')).join('\n');

    test('schema 2.2, ENV_VAR interpolation for every parameter, patterns equal to the kind\'s', () => {
      expect(doc.schemaVersion).toBe('2.2');
      expect(Object.keys(doc.parameters)).toEqual(['action', 'userName', 'owner', 'accessTag', 'sshPublicKey']);
      for (const p of Object.values(doc.parameters)) expect(p).toMatchObject({ type: 'String', interpolationType: 'ENV_VAR' });
      expect(doc.parameters.action!.allowedValues).toEqual([...ACTIONS]);
      expect(doc.parameters.userName!.allowedPattern).toBe(OS_USER_PATTERN);
      expect(doc.parameters.owner!.allowedPattern).toBe(DIGEST_PATTERN);
      // Revoke, delete and describe send no key (default ''), which the pattern must accept.
      expect(doc.parameters.accessTag).toMatchObject({ allowedPattern: `^$|${DIGEST_PATTERN}`, default: '' });
      expect(doc.parameters.sshPublicKey).toMatchObject({ allowedPattern: `^$|${SSH_KEY_PATTERN}`, default: '' });
      expect(doc.mainSteps).toHaveLength(1);
      expect(doc.mainSteps[0]).toMatchObject({ action: 'aws:runShellScript', precondition: { StringEquals: ['platformType', 'Linux'] } });
    });

    test('the script never interpolates a parameter: only quoted "$SSM_<name>" variables, set -eu', () => {
      expect(raw).not.toMatch(/\{\{/);
      expect(doc.mainSteps[0]!.inputs.runCommand[0]).toBe('set -eu');
      const uses = [...script.matchAll(/.\$\{?SSM_([A-Za-z]+)/g)];
      expect(uses.length).toBeGreaterThan(5);
      for (const u of uses) {
        expect(Object.keys(doc.parameters)).toContain(u[1]);
        expect(u[0][0]).toBe('"'); // quoted: "$SSM_x" or "${SSM_x…}"
      }
      expect(script).not.toMatch(/\beval\b/);
      expect(script).not.toMatch(/AWS-RunShellScript/);
    });

    test('the document\'s patterns accept what the kind sends and refuse hostile values', () => {
      const user = new RegExp(doc.parameters.userName!.allowedPattern!);
      const key = new RegExp(doc.parameters.sshPublicKey!.allowedPattern!);
      for (const n of ['bob', 'Alice.Smith@Example.com', 'x'.repeat(60)]) expect((osUserName(n) as { name: string }).name).toMatch(user);
      for (const n of ['root', 'ec2-user', 'ac-', 'ac-bob; rm -rf /', 'ac-$(id)', '../../root', `ac-${'a'.repeat(30)}`]) expect(n).not.toMatch(user);
      for (const k of [K1, ecdsa(), '']) expect(k).toMatch(key);
      for (const k of ['ssh-ed25519 AAAA; rm -rf /', `${K1} comment`, 'ssh-dss AAAA']) expect(k).not.toMatch(key);
    });

    test('the deployed document refuses a malicious parameter sent directly: InvalidParameters, nothing runs', async () => {
      const ssm = await ctx.session.memberClient(SSMClient, PROD, EAST);
      const owner = 'a'.repeat(32);
      const before = sim.admin.ssmCommands({ accountId: PROD, region: EAST }).length;
      const users = structuredClone(byId(web1).osUsers);
      const bad: Record<string, string[]>[] = [
        { action: ['grant'], userName: ['ac-bob; rm -rf /'], owner: [owner], accessTag: [owner], sshPublicKey: [K1] },
        { action: ['grant'], userName: ['../../root'], owner: [owner], accessTag: [owner], sshPublicKey: [K1] },
        { action: ['grant'], userName: ['root'], owner: [owner], accessTag: [owner], sshPublicKey: [K1] },
        { action: ['grant'], userName: ['ac-$(id)'], owner: [owner], accessTag: [owner], sshPublicKey: [K1] },
        { action: ['grant'], userName: ['ac-bob'], owner: [owner], accessTag: [owner], sshPublicKey: ['ssh-ed25519 AAAA; rm -rf /'] },
        { action: ['grant'], userName: ['ac-bob'], owner: [owner], accessTag: [owner], sshPublicKey: [`${K1}\nssh-rsa AAAA`] },
        { action: ['rm -rf /'], userName: ['ac-bob'], owner: [owner] },
        { action: ['revoke'], userName: ['ac-bob'], owner: ['$(id)'] },
        { action: ['grant'], userName: ['ac-bob'], owner: [owner], commands: ['id'] },
      ];
      for (const Parameters of bad) {
        const err = await ssm.send(new SendCommandCommand({ DocumentName: LOCAL_USER_DOCUMENT, InstanceIds: [web1], Parameters })).then(() => undefined, (e: unknown) => e);
        expect(awsErrorCode(err)).toBe('InvalidParameters');
        expect((err as ConnectorError).cause).toBeInstanceOf(InvalidParameters);
      }
      expect(sim.admin.ssmCommands({ accountId: PROD, region: EAST })).toHaveLength(before);
      expect(byId(web1).osUsers).toEqual(users);
    });
  });

  describe('grant, describe, revoke, cleanup', () => {
    test('grant creates the user with the key on every instance, only through the connector\'s document; describe sees it', async () => {
      const req = request(person('Alice.Smith@example.com'), [web2, web1]);
      expect(await kind.facts(ctx, req)).toMatchObject({ accountIds: [PROD], instanceRoles: [] });
      const before = await kind.describe(ctx, req);
      expect(before).toEqual({ present: false, observed: { osUserName: 'ac-alice-smith', keyFingerprint: fingerprint(K1), withKey: [] } });
      const kept = await kind.grant(ctx, req, before);
      expect(kept).toEqual({ osUserName: 'ac-alice-smith', keyFingerprint: fingerprint(K1), accessTag: tagOf(req), instanceIds: [web1, web2].sort(), usersCreated: [web1, web2].sort() });
      for (const id of [web1, web2]) {
        expect(osUser(id, 'ac-alice-smith')).toMatchObject({
          gecos: 'access-connector', shell: '/bin/bash', locked: false, authorizedKeys: [line(req)], marker: { uid: osUser(id, 'ac-alice-smith')!.uid },
        });
      }
      expect(await kind.describe(ctx, req)).toEqual({ present: true, observed: { osUserName: 'ac-alice-smith', keyFingerprint: fingerprint(K1), withKey: [web1, web2].sort() } });
      // Nothing but the connector's document ever ran, and the key went as a typed parameter.
      const cmds = sim.admin.ssmCommands({ accountId: PROD, region: EAST }) as { document: string; parameters: Record<string, string[]> }[];
      const ours = cmds.filter((c) => c.parameters.userName?.[0] === 'ac-alice-smith');
      expect(ours.length).toBeGreaterThanOrEqual(3);
      expect(new Set(ours.map((c) => c.document))).toEqual(new Set([LOCAL_USER_DOCUMENT]));
      expect(ours.find((c) => c.parameters.action?.[0] === 'grant')!.parameters.sshPublicKey).toEqual([K1]);
    });

    test('invocations that do not exist yet, then InProgress, are waited out', async () => {
      const req = request(person('Alice.Smith@example.com'), [web1]);
      sim.stats.reset();
      await kind.describe(ctx, req);
      const gets = sim.stats.snapshot().byOperation['ssm:GetCommandInvocation']!;
      expect(gets.errors).toBeGreaterThanOrEqual(1); // InvocationDoesNotExist right after SendCommand
      expect(gets.calls).toBeGreaterThan(gets.errors);
    });

    test('grant again changes nothing; revoke removes the key, locks, ends the user\'s processes and keeps the user', async () => {
      const alice = person('alice');
      const req = request(alice, [web1, web2]);
      await grant(req);
      const kept = await grant(req);
      expect(kept).toEqual({ osUserName: 'ac-alice', keyFingerprint: fingerprint(K1), withKey: [web1, web2].sort() }); // describe said present: no grant
      await kind.grant(ctx, req, { present: false }); // and a grant anyway adds no second line
      expect(osUser(web1, 'ac-alice')!.authorizedKeys).toEqual([line(req)]);

      osUser(web1, 'ac-alice')!.processes = 2; // an open SSH session
      const out = await kind.revoke(ctx, req, kept);
      expect(out!.notes!.join(' ')).toMatch(/ac-alice locked on .*processes \(open SSH sessions\) ended/);
      for (const id of [web1, web2]) expect(osUser(id, 'ac-alice')).toMatchObject({ locked: true, authorizedKeys: [], processes: 0, gecos: 'access-connector' });
      expect((await kind.describe(ctx, req)).present).toBe(false);
      // Revoke of what is gone succeeds and changes nothing.
      const snapshot = structuredClone(osUser(web1, 'ac-alice'));
      await kind.revoke(ctx, req, kept);
      expect(osUser(web1, 'ac-alice')).toMatchObject({ ...snapshot, at: expect.any(Number), parameters: expect.any(Object), state: 'revoke' });
      // A new grant unlocks the same user.
      await grant(req);
      expect(osUser(web1, 'ac-alice')).toMatchObject({ locked: false, authorizedKeys: [line(req)], uid: snapshot!.uid });
      await kind.revoke(ctx, req, kept);
    });

    // Regression: revoke and cleanup counted tagged lines in authorized_keys, which the OS user can write.
    test('what the user writes in authorized_keys never keeps access: forged tagged lines, extra keys, a replaced file', async () => {
      const req = request(person('mallory'), [web1]);
      await grant(req);
      const u = osUser(web1, 'ac-mallory')!;
      u.authorizedKeys!.push(`${K2.split(' ').slice(0, 2).join(' ')} access-connector:${'f'.repeat(32)}`, `${K2} laptop`);
      const out = await kind.revoke(ctx, req, {});
      expect(out!.notes!.join(' ')).toMatch(/ac-mallory locked on/);
      expect(osUser(web1, 'ac-mallory')).toMatchObject({ locked: true, authorizedKeys: [], processes: 0 });
      // Replaced while locked (a process that outlived nothing, or root by mistake): cleanup deletes the user anyway.
      osUser(web1, 'ac-mallory')!.authorizedKeys = [`${K2.split(' ').slice(0, 2).join(' ')} access-connector:${'f'.repeat(32)}`];
      await kind.cleanup!(ctx, req, {});
      expect(osUser(web1, 'ac-mallory')).toBeUndefined();
    });

    test('cleanup deletes the locked user and its home; cleanup and revoke again are no-ops', async () => {
      const req = request(person('erin'), [web1, web2]);
      await grant(req);
      await kind.revoke(ctx, req, {});
      expect(osUser(web1, 'ac-erin')).toBeDefined();
      await kind.cleanup!(ctx, req, {});
      for (const id of [web1, web2]) expect(osUser(id, 'ac-erin')).toBeUndefined();
      await kind.cleanup!(ctx, req, {});
      await kind.revoke(ctx, req, {});
      expect(osUser(web1, 'ac-erin')).toBeUndefined();
    });

    test('overlapping grants keep their own key lines: one revoke leaves the other\'s access, cleanup waits for the last', async () => {
      const frank = person('frank');
      const a = request(frank, [web1], K1, 'g-a');
      const b = request(frank, [web1, web2], K2, 'g-b');
      await grant(a);
      await grant(b);
      expect(osUser(web1, 'ac-frank')!.authorizedKeys).toEqual([line(a), line(b)]);
      const out = await kind.revoke(ctx, a, {});
      expect(out!.notes!.join(' ')).toMatch(/stays unlocked .*another grant's key remains/);
      expect(osUser(web1, 'ac-frank')).toMatchObject({ locked: false, authorizedKeys: [line(b)] });
      expect((await kind.describe(ctx, b)).present).toBe(true);
      await kind.cleanup!(ctx, a, {}); // the user still holds b's key: kept
      expect(osUser(web1, 'ac-frank')).toMatchObject({ locked: false, authorizedKeys: [line(b)] });
      await kind.revoke(ctx, b, {});
      await kind.cleanup!(ctx, b, {});
      expect(osUser(web1, 'ac-frank')).toBeUndefined();
      expect(osUser(web2, 'ac-frank')).toBeUndefined();
    });

    test('a user access-connector did not create is never touched: describe refuses, the document fails, nothing changes', async () => {
      const before = structuredClone(byId(web1).osUsers);
      const req = request(person('legacy'), [web1, web2]); // ac-legacy exists on web-1 without our marker
      const refused = await rejection(kind.describe(ctx, req));
      expect(refused.code).toBe('ACCESS_REFUSED');
      expect(refused.message).toMatch(new RegExp(`OS user ac-legacy already exists on ${web1} .*never touched`));
      // Sent anyway, the document itself refuses on web-1; web-2, where it succeeded, is undone.
      const failed = await rejection(kind.grant(ctx, req, { present: false }));
      expect(failed.code).toBe('ACCESS_FAILED');
      expect(failed.message).toContain(`failed on ${web1}`);
      expect(failed.message).toContain('access-connector: OS user ac-legacy exists but was not created by access-connector; it is left untouched');
      expect(failed.message).toContain(`undone on ${web2}`);
      expect(osUser(web2, 'ac-legacy')).toBeUndefined();
      // One after the other: started together, the second could reject before anything awaits it.
      for (const call of [() => kind.revoke(ctx, req, {}), () => kind.cleanup!(ctx, req, {})]) {
        const e = await rejection(call());
        expect(e.code).toBe('ACCESS_FAILED');
        expect(e.message).toContain('not created by access-connector');
      }
      expect(byId(web1).osUsers).toEqual(before);
      expect(byId(web1).osUsers['ec2-user']!.authorizedKeys).toHaveLength(1);

      // ec2-user cannot be named: it would be ac-ec2-user, a user of its own.
      const ec2 = request(person('ec2-user'), [web1]);
      await grant(ec2);
      expect(byId(web1).osUsers['ec2-user']).toEqual(before['ec2-user']);
      expect(osUser(web1, 'ac-ec2-user')!.authorizedKeys).toEqual([line(ec2)]);
      await kind.revoke(ctx, ec2, {});
      await kind.cleanup!(ctx, ec2, {});
    });

    test('another person whose userName sanitizes to the same OS user is refused', async () => {
      const first = request(person('grace@example.com'), [web1]);
      await grant(first);
      const other = request(person('Grace@other.example'), [web1], K2, 'g-other');
      expect((await rejection(kind.describe(ctx, other))).code).toBe('ACCESS_REFUSED');
      const e = await rejection(kind.grant(ctx, other, { present: false }));
      expect(e.message).toContain('created by access-connector for another person');
      expect(osUser(web1, 'ac-grace')!.authorizedKeys).toEqual([line(first)]);
      await kind.revoke(ctx, first, {});
      await kind.cleanup!(ctx, first, {});
    });

    test('one instance failing: the others are undone, ACCESS_FAILED names the instance and its stderr (bounded)', async () => {
      const req = request(person('carol'), [web1, web2]);
      const before = await kind.describe(ctx, req);
      sim.admin.failNextCommands({ accountId: PROD, region: EAST, instanceId: web2, output: 'useradd: cannot lock /etc/passwd; try again later.' });
      const e = await rejection(kind.grant(ctx, req, before));
      expect(e.code).toBe('ACCESS_FAILED');
      expect(e.message).toContain(`grant of ac-carol failed on ${web2} in ${PROD}/${EAST}: useradd: cannot lock /etc/passwd; try again later.`);
      expect(e.message).toContain(`undone on ${web1}`);
      expect(osUser(web1, 'ac-carol')).toBeUndefined();
      expect(osUser(web2, 'ac-carol')).toBeUndefined();

      // Huge, binary stderr: one bounded printable line.
      sim.admin.failNextCommands({ accountId: PROD, region: EAST, instanceId: web2, output: `\u001b[31m${'x'.repeat(10_000)}\n\u0000` });
      const big = await rejection(kind.grant(ctx, req, before));
      expect(big.message.length).toBeLessThan(800);
      expect(big.message).not.toMatch(/[\u0000-\u001f]/);
      expect(osUser(web1, 'ac-carol')).toBeUndefined();
    });

    test('an instance that never answers: ACCESS_TIMEOUT after the wait, and the grant is undone everywhere', async () => {
      const req = request(person('kim'), [web1, web2]);
      const before = await kind.describe(ctx, req);
      let skew = 0;
      const clock: AccessContext = { ...ctx, now: () => Date.now() + skew };
      sim.admin.hangNextCommands({ accountId: PROD, region: EAST, instanceId: web2 });
      const commandsBefore = sim.admin.ssmCommands({ accountId: PROD, region: EAST }).length;
      const polls = () => sim.stats.snapshot().byOperation['ssm:GetCommandInvocation']?.calls ?? 0;
      const pending = rejection(kind.grant(clock, req, before));
      // The skew must come after the grant set its deadline (else the deadline moves with it
      // and the test waits the real 10 minutes) and after it has seen web-1 succeed (else
      // both instances are late). A fixed 700 ms guessed both; instead: the grant's command
      // is in the simulator, the simulator's clock is past the command's end (web-1 has
      // succeeded, web-2 hangs), and two more GetCommandInvocation calls have come. Rounds
      // of polls run one after the other, so the second of those belongs to a round that
      // began after web-1 had succeeded: the deadline is set and web-1 is seen done.
      let command: SsmCommand | undefined;
      await until(() => (command = sim.admin.ssmCommands({ accountId: PROD, region: EAST }).slice(commandsBefore)[0] as SsmCommand | undefined) !== undefined, 20_000, 'the grant\'s SendCommand');
      expect(command!.instanceIds).toEqual(expect.arrayContaining([web1, web2]));
      await until(() => sim.runtime.now() >= command!.completesAt, 20_000, 'web-1\'s command to end in the simulator');
      const pollsAfterEnd = polls();
      await until(() => polls() >= pollsAfterEnd + 2, 20_000, 'two GetCommandInvocation polls after the command ended');
      skew = 10 * 60_000;
      const e = await pending;
      expect(e.code).toBe('ACCESS_TIMEOUT');
      expect(e.message).toMatch(new RegExp(`did not finish on ${web2} within \\d+ s\\. It was undone on .*revoke this grant to be sure`));
      expect(osUser(web1, 'ac-kim')).toBeUndefined();
      expect(osUser(web2, 'ac-kim')).toBeUndefined();
    });

    test('undo leaves what another grant had put there', async () => {
      const dave = person('dave');
      const first = request(dave, [web1], K1, 'g-first');
      await grant(first);
      const second = request(dave, [web1, web2], K1, 'g-second'); // same key, another instance set: its own line
      const before = await kind.describe(ctx, second);
      expect(before.present).toBe(false);
      sim.admin.failNextCommands({ accountId: PROD, region: EAST, instanceId: web2, output: 'disk full' });
      expect((await rejection(kind.grant(ctx, second, before))).code).toBe('ACCESS_FAILED');
      expect(osUser(web1, 'ac-dave')).toMatchObject({ locked: false, authorizedKeys: [line(first)] });
      expect((await kind.describe(ctx, first)).present).toBe(true);
      await kind.revoke(ctx, first, {});
      await kind.cleanup!(ctx, first, {});
    });
  });

  describe('instances SSM cannot reach, and accounts the connector refuses', () => {
    test('facts: unknown → AWS_NOT_FOUND, offline → ACCESS_FAILED (retryable), Windows → ACCESS_REFUSED', async () => {
      const unknown = await rejection(kind.facts(ctx, request(person('heidi'), [web1, 'i-00000000000000000'])));
      expect(unknown.code).toBe('AWS_NOT_FOUND');
      expect(unknown.message).toContain('i-00000000000000000 is not managed by SSM there');
      const offline = await rejection(kind.facts(ctx, request(person('heidi'), [web1, bastion])));
      expect(offline).toMatchObject({ code: 'ACCESS_FAILED', retryable: true });
      expect(offline.message).toContain(`${bastion} in ${PROD}/${EAST} is not online in SSM`);
      const win = inst('eu-win', PROD, 'eu-west-1').id;
      const windows = await rejection(kind.facts(ctx, request(person('heidi'), [win], K1, 'g', PROD, 'eu-west-1')));
      expect(windows.code).toBe('ACCESS_REFUSED');
      expect(windows.message).toContain('not a Linux instance');
    });

    test('grant on an offline instance: SSM InvalidInstanceId → ACCESS_FAILED, nothing changed; a skipped (non-Linux) step is never success', async () => {
      const sends = calls('ssm:SendCommand');
      const req = request(person('heidi'), [web1, bastion]);
      const e = await rejection(kind.grant(ctx, req, { present: false }));
      expect(e).toMatchObject({ code: 'ACCESS_FAILED', retryable: true });
      expect(e.message).toMatch(/SSM cannot reach .*agent is offline/);
      expect(calls('ssm:SendCommand')).toBe(sends + 1);
      expect(osUser(web1, 'ac-heidi')).toBeUndefined();

      const win = inst('eu-win', PROD, 'eu-west-1').id;
      const w = await rejection(kind.grant(ctx, request(person('heidi'), [win], K1, 'g', PROD, 'eu-west-1'), { present: false }));
      expect(w.code).toBe('ACCESS_FAILED');
      expect(w.message).toContain('printed no result');
    });

    test('revoke with an instance offline revokes the rest and fails retryably; unknown instances are reported, not failed', async () => {
      const req = request(person('ivan'), [web1, web2]);
      await grant(req);
      sim.admin.setInstancePing({ accountId: PROD, region: EAST, instanceId: web2, ping: 'ConnectionLost' });
      try {
        const e = await rejection(kind.revoke(ctx, req, {}));
        expect(e).toMatchObject({ code: 'ACCESS_FAILED', retryable: true });
        expect(e.message).toContain(`${web2} in ${PROD}/${EAST} is not online in SSM`);
        expect(osUser(web1, 'ac-ivan')).toMatchObject({ locked: true, authorizedKeys: [] });
        expect(osUser(web2, 'ac-ivan')).toMatchObject({ locked: false, authorizedKeys: [line(req)] });
      } finally {
        sim.admin.setInstancePing({ accountId: PROD, region: EAST, instanceId: web2, ping: 'Online' });
      }
      await kind.revoke(ctx, req, {});
      expect(osUser(web2, 'ac-ivan')).toMatchObject({ locked: true, authorizedKeys: [] });

      // An instance SSM no longer knows (terminated): nothing to do there, said in the notes.
      const gone = request(person('ivan'), [web1, 'i-0fffffffffffffff0']);
      const out = await kind.revoke(ctx, gone, {});
      expect(out!.notes!.join(' ')).toContain('i-0fffffffffffffff0 is no longer managed by SSM');
      await kind.cleanup!(ctx, req, {});
      expect(osUser(web1, 'ac-ivan')).toBeUndefined();
    });

    test('the management account is refused unless allowManagementAccount; excluded accounts always', async () => {
      const sends = calls('ssm:SendCommand');
      const req = request(person('judy'), ['i-0123456789abcdef0'], K1, 'g', MGMT);
      const e = await rejection(kind.facts(ctx, req));
      expect(e.code).toBe('ACCESS_REFUSED');
      expect(e.message).toContain('management account');
      // Allowed, the check moves on to the instance (which the management account does not have).
      const allowed = accessContextFor(sim, { allowManagementAccount: true });
      expect((await rejection(kind.facts(allowed, req))).code).toBe('AWS_NOT_FOUND');
      const excluded = accessContextFor(sim, { excludeAccountIds: [PROD] });
      expect((await rejection(kind.facts(excluded, request(person('judy'), [web1])))).code).toBe('ACCESS_REFUSED');
      expect(calls('ssm:SendCommand')).toBe(sends);
    });
  });

  test('accessDetails: ssh through Session Manager as the OS user; what revoke cannot end; no secret', () => {
    const c = accessContextFor(sim, { customAccessDetails: 'Ask #ops for help', userCleanupAfterDays: 7 });
    const d = kind.accessDetails(c, request(person('alice'), [web2, web1]));
    const first = [web1, web2].sort()[0]!;
    expect(d.command).toBe(`ssh -o ProxyCommand="aws ssm start-session --target %h --document-name AWS-StartSSHSession --parameters portNumber=%p --region ${EAST}" ac-alice@${first}`);
    expect(d.instructions).toContain(fingerprint(K1));
    expect(d.revokeLimits!.join(' ')).toMatch(/ends all of its processes.*SSH sessions opened with this key stay open.*now: 7/s);
    expect(d.custom).toBe('Ask #ops for help');
    expect(kind.createsCredentials).toBe('the SSH public key authorized for the OS user');
  });

  test('every AWS action used in this file is declared in requiredActions', () => {
    const used = Object.keys(sim.stats.snapshot().byOperation).filter((k) => k.startsWith('ssm:') || k.startsWith('organizations:'));
    expect(used.length).toBeGreaterThan(0);
    for (const op of used) expect(kind.requiredActions).toContain(op);
  });
});
