// ec2.localUser: an OS user `ac-<name>` on SSM-managed Linux instances, holding the
// requester's SSH public key. Everything on the instance is done by the connector's own
// Command document (src/access/documents/local-user.json, deployed by the templates), never
// by AWS-RunShellScript: its parameters are typed, checked by SSM against allowedPattern,
// and reach the script only as SSM_<name> environment variables (interpolationType
// ENV_VAR), so no value can become shell code, and IAM can allow ssm:SendCommand on that
// one document instead of on a root shell.
//
// On the instance:
// - A user is ours only if the document created it: a root-only marker file records the
//   owner (a digest of principal.id) and the uid. Any other user, `ac-` or not, is never
//   touched; another person's `ac-` user is refused too (two userNames can sanitize alike).
// - Each grant's key is recorded under its accessTag (a digest of the accessKey) in a
//   root-only file outside the user's home (/var/lib/access-connector/keys/<user>), and
//   authorized_keys is rewritten from that record alone on every grant and revoke, one line
//   `<key> access-connector:<accessTag>` a grant: overlapping grants keep their own keys, and
//   whatever the user wrote there (a forged tag, another key, a replaced file, a symlink) is
//   dropped. The user's home is only ever touched as the user, never as root.
// - Revoke forgets its key; when the record holds no grant for the user any more it locks
//   and expires the account, kills the user's processes (open SSH sessions) and removes
//   ~/.ssh, whatever the home holds. cleanup() deletes the user and its home once the record
//   holds no grant for it; nothing in the home can keep it.
//
// OS user name: `ac-` + principal.userName's local part (before @), lowercased, with . + = ,
// turned into -, cut to 32 characters. Names holding anything else (/ $ ; spaces, control
// characters) or not starting with a letter are refused, never "cleaned" into something else.
//
// SSH key: `type base64` with an optional trailing comment. The comment is dropped (never
// sent, never written) when it is a plain `user@host`-like word, refused otherwise, so
// nothing but the key itself reaches AWS. The key data must decode to a key of the named
// type (RSA at least 2048 bits).
import { createHash } from 'node:crypto';
import {
  DescribeInstanceInformationCommand,
  GetCommandInvocationCommand,
  SendCommandCommand,
  SSMClient,
  type GetCommandInvocationCommandOutput,
  type InstanceInformation,
} from '@aws-sdk/client-ssm';
import * as z from 'zod';
import { awsErrorCode } from '../../aws/errors.js';
import { collect, pageSize, paginate } from '../../aws/paginate.js';
import { ConnectorError } from '../../errors.js';
import { ACCOUNT_ID } from '../identity-center.js';
import { refuseProtectedAccounts } from '../accounts.js';
import { INSTANCE_FACT_ACTIONS, instanceFacts } from '../instance-roles.js';
import { beforeChange, unchanged, type AccessContext, type AccessKindDef, type AccessRequest, type PolicyFacts, type Presence, type Principal } from '../types.js';

/** Name of the Command document the templates deploy in every member account and region. */
export const LOCAL_USER_DOCUMENT = 'AccessConnector-LocalUser';
export const USER_PREFIX = 'ac-';
/** The document's parameters and the patterns SSM enforces on them (a test holds the JSON to these). */
export const OS_USER_PATTERN = '^ac-[a-z0-9_-]{1,29}$';
export const SSH_KEY_PATTERN = '^(ssh-ed25519|ecdsa-sha2-nistp256|ssh-rsa) [A-Za-z0-9+/]+={0,2}$';
export const DIGEST_PATTERN = '^[0-9a-f]{32}$';
export const ACTIONS = ['grant', 'revoke', 'delete', 'describe'] as const;
type Action = (typeof ACTIONS)[number];

const INSTANCE_ID = /^(i-([0-9a-f]{8}|[0-9a-f]{17})|mi-[0-9a-f]{17})$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;
const KEY = /^(ssh-ed25519|ecdsa-sha2-nistp256|ssh-rsa) ([A-Za-z0-9+/]+={0,2})(?: ([A-Za-z0-9._@+=:-]{1,100}))?$/;
const MAX_KEY_CHARS = 4096;
/** Identity Center user names: letters, digits and + = , . @ - (plus _ which POSIX names allow). */
const USER_NAME = /^[A-Za-z0-9._@+=,-]{1,128}$/;
/** SSM's documented wait for delivery is TimeoutSeconds; the script's own limit is 120 s. */
const DELIVERY_TIMEOUT_S = 120;
const WAIT_MS = (DELIVERY_TIMEOUT_S + 180) * 1000;
const TERMINAL = new Set(['Success', 'Failed', 'TimedOut', 'Cancelled']);

const digest = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 32);

/** Reads one length-prefixed field of the SSH wire format (RFC 4253 §6.6). */
function field(blob: Buffer, at: number): { value: Buffer; next: number } | undefined {
  if (at + 4 > blob.length) return undefined;
  const n = blob.readUInt32BE(at);
  if (at + 4 + n > blob.length) return undefined;
  return { value: blob.subarray(at + 4, at + 4 + n), next: at + 4 + n };
}

/** The key as sent to the instance (`type base64`), or why it is refused. Never echoes the input. */
export function parseSshKey(raw: string): { key: string; type: string; fingerprint: string } | { error: string } {
  if (raw.length > MAX_KEY_CHARS) return { error: `must be at most ${MAX_KEY_CHARS} characters` };
  const m = KEY.exec(raw);
  if (!m) {
    return { error: 'must be one line "ssh-ed25519|ecdsa-sha2-nistp256|ssh-rsa <base64>", optionally followed by one comment word of letters, digits and . _ @ + = : -' };
  }
  const type = m[1]!;
  const b64 = m[2]!;
  const blob = Buffer.from(b64, 'base64');
  if (blob.toString('base64') !== b64) return { error: 'has key data that is not valid base64' };
  const t = field(blob, 0);
  if (!t || t.value.toString('latin1') !== type) return { error: `has key data that is not a ${type} key` };
  const a = field(blob, t.next);
  const b = a && field(blob, a.next);
  const end = type === 'ssh-ed25519' ? a?.next : b?.next;
  if (end !== blob.length) return { error: `has key data that is not a ${type} key` };
  if (type === 'ssh-ed25519' && a!.value.length !== 32) return { error: 'has key data that is not an ssh-ed25519 key' };
  if (type === 'ecdsa-sha2-nistp256' && (a!.value.toString('latin1') !== 'nistp256' || b!.value.length !== 65)) return { error: 'has key data that is not an ecdsa-sha2-nistp256 key' };
  if (type === 'ssh-rsa') {
    const n = b!.value;
    const bits = (n.length - (n[0] === 0 ? 1 : 0)) * 8;
    if (bits < 2048) return { error: 'is an RSA key shorter than 2048 bits' };
  }
  const fingerprint = `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
  return { key: `${type} ${b64}`, type, fingerprint };
}

/** `ac-` + the user name's local part, lowercased, with . + = , as -; or why it cannot be made safe. */
export function osUserName(userName: string | undefined): { name: string } | { error: string } {
  if (!userName) return { error: 'principal.userName is required: it names the OS user' };
  if (!USER_NAME.test(userName)) return { error: 'principal.userName may hold only letters, digits and . _ @ + = , - to be made into an OS user name' };
  const local = userName.split('@')[0]!.toLowerCase().replace(/[.+=,]/g, '-');
  if (!/^[a-z]/.test(local)) return { error: 'principal.userName must start with a letter to be made into an OS user name' };
  return { name: (USER_PREFIX + local).slice(0, 32) };
}

const target = z.strictObject({
  accountId: z.string().regex(ACCOUNT_ID, 'must be a 12-digit account id'),
  region: z.string().max(32).regex(REGION, 'must be an AWS region name such as us-east-1'),
  instanceIds: z
    .array(z.string().max(20).regex(INSTANCE_ID, 'must be an EC2 instance id (i-…) or a managed node id (mi-…)'))
    .min(1, 'must name at least one instance')
    .max(50, 'must name at most 50 instances (SendCommand takes 50)')
    .refine((ids) => new Set(ids).size === ids.length, 'must not name an instance twice'),
  sshPublicKey: z.string().superRefine((v, c) => {
    const k = parseSshKey(v);
    if ('error' in k) c.addIssue({ code: 'custom', message: k.error });
  }),
});
type Target = z.infer<typeof target>;

/** Everything a call needs, derived from the request and checked again (kinds may be called directly). */
interface Plan {
  accountId: string;
  region: string;
  instanceIds: string[];
  user: string;
  key: string;
  keyType: string;
  fingerprint: string;
  /** Digest of principal.id, recorded on the instance when the user is created. */
  owner: string;
  /** Digest of the accessKey: names this grant's authorized_keys line. */
  tag: string;
  accessKey: string;
}

function planOf(req: AccessRequest<Target>): Plan {
  const t = target.safeParse(req.target);
  if (!t.success) {
    const i = t.error.issues[0]!;
    throw new ConnectorError('JOB_PARAMS_INVALID', `ec2.localUser target.${i.path.join('.')}: ${i.message}`);
  }
  const bad = checkPrincipal(req.principal);
  if (bad) throw new ConnectorError('JOB_PARAMS_INVALID', `ec2.localUser: ${bad}`);
  const user = (osUserName(req.principal.userName) as { name: string }).name;
  const k = parseSshKey(t.data.sshPublicKey) as { key: string; type: string; fingerprint: string };
  const instanceIds = [...t.data.instanceIds].sort();
  const owner = digest(`ec2.localUser owner|${req.principal.id}`);
  // Bounded whatever the input (50 ids, a 2 KiB principal id): digests, and the key's
  // fingerprint as ssh-keygen -l prints it, so an operator can match it by eye.
  const accessKey = `ec2.localUser:${t.data.accountId}|${t.data.region}|${user}|${digest(instanceIds.join(','))}|${owner}|${k.fingerprint}`;
  return {
    accountId: t.data.accountId, region: t.data.region, instanceIds, user, key: k.key, keyType: k.type, fingerprint: k.fingerprint,
    owner, tag: digest(accessKey), accessKey,
  };
}

function checkPrincipal(p: Principal): string | undefined {
  if (p.type !== 'user') return 'principal.type must be user';
  const n = osUserName(p.userName);
  return 'error' in n ? n.error : undefined;
}

const where = (p: Plan) => `${p.accountId}/${p.region}`;
const ssmClient = (ctx: AccessContext, p: Plan) => ctx.session.memberClient(SSMClient, p.accountId, p.region);

/** A document's stderr for an error message: one line, printable, bounded. */
function clip(s: string | undefined, max = 300): string {
  const one = (s ?? '').replace(/[^\x20-\x7e]+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max)}…` : one;
}

function listed(ids: string[]): string {
  return ids.length <= 3 ? ids.join(', ') : `${ids.slice(0, 3).join(', ')} and ${ids.length - 3} more`;
}

/** The SSM view of the instances: registered ones by id (absent = unknown to SSM there). */
async function instancesOf(ssm: SSMClient, ids: string[]): Promise<Map<string, InstanceInformation>> {
  const found = await collect(paginate(async (t) => {
    const r = await ssm.send(new DescribeInstanceInformationCommand({
      Filters: [{ Key: 'InstanceIds', Values: ids }], MaxResults: pageSize('ssmInstanceInformation'), NextToken: t,
    }));
    return { items: r.InstanceInformationList, next: r.NextToken };
  }));
  return new Map(found.flatMap((i) => (i.InstanceId ? [[i.InstanceId, i] as const] : [])));
}

interface Outcome {
  ok: boolean;
  status: string;
  code: number;
  /** The document's `access-connector-result:` line, as key=value pairs. */
  result?: Record<string, string>;
  stderr: string;
}

function outcomeOf(r: GetCommandInvocationCommandOutput, action: Action): Outcome {
  const line = (r.StandardOutputContent ?? '').split('\n').reverse().find((l) => l.startsWith('access-connector-result: '));
  const result = line
    ? Object.fromEntries(line.slice('access-connector-result: '.length).trim().split(/\s+/).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]))
    : undefined;
  const status = r.Status ?? 'Unknown';
  // A Success without our result line means the step did not run (skipped by the Linux
  // precondition, or a document of that name that is not ours): never taken as done.
  const ok = status === 'Success' && result?.action === action;
  const stderr = ok ? '' : clip(r.StandardErrorContent) || (status === 'Success' ? 'the document printed no result (is it a Linux instance, and is the deployed document the connector\'s?)' : `${status}${r.StatusDetails && r.StatusDetails !== status ? ` (${r.StatusDetails})` : ''}`);
  return { ok, status, code: r.ResponseCode ?? -1, ...(result && { result }), stderr };
}

/**
 * Runs the document on `ids` and waits until every invocation is terminal. SendCommand
 * takes at most 50 instance ids, which the target schema guarantees.
 */
async function run(ctx: AccessContext, ssm: SSMClient, p: Plan, action: Action, ids: string[]): Promise<Map<string, Outcome>> {
  const Parameters: Record<string, string[]> = { action: [action], userName: [p.user], owner: [p.owner], accessTag: [p.tag] };
  if (action === 'grant' || action === 'describe') Parameters.sshPublicKey = [p.key];
  let commandId: string;
  try {
    const out = await ssm.send(new SendCommandCommand({
      DocumentName: LOCAL_USER_DOCUMENT, InstanceIds: ids, Parameters, TimeoutSeconds: DELIVERY_TIMEOUT_S,
      // All at once, and no error stops the rest: every instance reports its own outcome.
      MaxConcurrency: '50', MaxErrors: '100%', Comment: `access-connector ec2.localUser ${action} ${p.user}`,
    }));
    commandId = out.Command!.CommandId!;
  } catch (err) {
    const code = awsErrorCode(err);
    if (code === 'InvalidInstanceId') {
      throw new ConnectorError('ACCESS_FAILED', `ssm.SendCommand in ${where(p)}: SSM cannot reach ${listed(ids)} (not managed by SSM there, stopped, or its agent is offline); start the instance or fix its SSM agent, then try again`, { cause: err, retryable: true });
    }
    if (code === 'InvalidDocument') {
      throw new ConnectorError('AWS_NOT_FOUND', `ssm.SendCommand in ${where(p)}: the Command document ${LOCAL_USER_DOCUMENT} is not there; deploy the access-connector member stack (it installs the document) in that account and region`, { cause: err });
    }
    if (code === 'InvalidParameters') {
      throw new ConnectorError('ACCESS_FAILED', `ssm.SendCommand in ${where(p)}: the deployed ${LOCAL_USER_DOCUMENT} refused the parameters (${clip((err as Error).message, 200)}); update the member stack so the document matches this connector`, { cause: err });
    }
    throw err;
  }

  const done = new Map<string, Outcome>();
  const deadline = ctx.now() + WAIT_MS;
  let delay = 100;
  while (done.size < ids.length) {
    await ctx.sleep(delay);
    delay = Math.min(delay * 2, 2000);
    const pending = ids.filter((id) => !done.has(id));
    for (let i = 0; i < pending.length; i += 10) {
      await Promise.all(pending.slice(i, i + 10).map(async (id) => {
        try {
          const r = await ssm.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: id }));
          if (TERMINAL.has(r.Status ?? '')) done.set(id, outcomeOf(r, action));
        } catch (err) {
          // SSM creates the invocations a moment after SendCommand returns.
          if (awsErrorCode(err) !== 'InvocationDoesNotExist') throw err;
        }
      }));
    }
    if (done.size < ids.length && ctx.now() > deadline) {
      const late = ids.filter((id) => !done.has(id));
      throw new ConnectorError('ACCESS_TIMEOUT', `ssm command ${commandId} (${LOCAL_USER_DOCUMENT} ${action}) in ${where(p)} did not finish on ${listed(late)} within ${WAIT_MS / 1000} s`);
    }
  }
  return done;
}

function failuresOf(p: Plan, action: Action, res: Map<string, Outcome>): ConnectorError | undefined {
  const bad = [...res].filter(([, o]) => !o.ok);
  if (bad.length === 0) return undefined;
  const [id, o] = bad[0]!;
  const more = bad.length > 1 ? ` (and on ${listed(bad.slice(1).map(([i]) => i))})` : '';
  return new ConnectorError('ACCESS_FAILED', `ec2.localUser ${action} of ${p.user} failed on ${id} in ${where(p)}${more}: ${o.stderr}`);
}

/** Revokes this grant's key on `revoke`, then deletes the users on `remove` (unless another grant's key is there); says how it went. */
const UNDO_FAILED = 'Undoing it failed too';

async function undo(ctx: AccessContext, ssm: SSMClient, p: Plan, revoke: string[], remove: string[]): Promise<string> {
  if (revoke.length === 0 && remove.length === 0) return '';
  try {
    if (revoke.length > 0) {
      const r = failuresOf(p, 'revoke', await run(ctx, ssm, p, 'revoke', revoke));
      if (r) throw r;
    }
    if (remove.length > 0) {
      const d = failuresOf(p, 'delete', await run(ctx, ssm, p, 'delete', remove));
      if (d) throw d;
    }
    return ` It was undone on ${listed([...new Set([...revoke, ...remove])])}.`;
  } catch (err) {
    return ` ${UNDO_FAILED} (${clip((err as Error).message, 200)}): revoke this grant to finish.`;
  }
}

/** Runs `action` where SSM can reach the instance; reports the ones it cannot. */
async function onReachable(ctx: AccessContext, p: Plan, action: 'revoke' | 'delete'): Promise<{ res: Map<string, Outcome>; gone: string[]; offline: string[] }> {
  const ssm = await ssmClient(ctx, p);
  const known = await instancesOf(ssm, p.instanceIds);
  const gone = p.instanceIds.filter((id) => !known.has(id));
  const offline = p.instanceIds.filter((id) => known.has(id) && known.get(id)!.PingStatus !== 'Online');
  const online = p.instanceIds.filter((id) => known.get(id)?.PingStatus === 'Online');
  const res = online.length > 0 ? await run(ctx, ssm, p, action, online) : new Map<string, Outcome>();
  return { res, gone, offline };
}

function offlineError(p: Plan, action: string, offline: string[]): ConnectorError {
  return new ConnectorError('ACCESS_FAILED', `ec2.localUser ${action} of ${p.user}: ${listed(offline)} in ${where(p)} is not online in SSM (stopped, or its agent is offline); it was done everywhere else, and is retried when the job is sent again`, { retryable: true });
}

export const ec2LocalUser: AccessKindDef<Target> = {
  name: 'ec2.localUser',
  summary: 'Creates an OS user ac-<name> with the requester\'s SSH public key on SSM-managed Linux instances, through the connector\'s own SSM Command document.',
  principalTypes: ['user'],
  target,
  checkPrincipal,
  requiredActions: [
    'organizations:DescribeOrganization',
    'ssm:DescribeInstanceInformation',
    'ssm:SendCommand',
    'ssm:GetCommandInvocation',
    ...INSTANCE_FACT_ACTIONS,
  ],
  createsCredentials: 'the SSH public key authorized for the OS user',

  // One key on one set of instances for one person: grants of the same key elsewhere, or
  // of another key on the same instances, are separate access (their own authorized_keys lines).
  accessKey: (req) => planOf(req).accessKey,
  // Every change to one OS user in an account and region is serialized, whatever the key
  // or instances: revoke's "last key gone → lock" must not interleave with another grant.
  lockKey: (req) => {
    const p = planOf(req);
    return `ec2.localUser:${p.accountId}|${p.region}|${p.user}`;
  },

  async facts(ctx, req): Promise<PolicyFacts> {
    const p = planOf(req);
    await refuseProtectedAccounts(ctx, [p.accountId], `ec2.localUser in account ${p.accountId}`);
    if (ctx.integration.type === 'aws-account' && p.accountId !== (await ctx.session.managementIdentity()).accountId) {
      throw new ConnectorError('ACCESS_REFUSED', `account ${p.accountId} is not the account of this aws-account integration`);
    }
    const known = await instancesOf(await ssmClient(ctx, p), p.instanceIds);
    const unknown = p.instanceIds.filter((id) => !known.has(id));
    if (unknown.length > 0) {
      throw new ConnectorError('AWS_NOT_FOUND', `ssm.DescribeInstanceInformation in ${where(p)}: ${listed(unknown)} is not managed by SSM there (wrong id, account or region, or no SSM agent and instance profile)`);
    }
    const notLinux = p.instanceIds.filter((id) => known.get(id)!.PlatformType !== 'Linux');
    if (notLinux.length > 0) throw new ConnectorError('ACCESS_REFUSED', `${listed(notLinux)} in ${where(p)} is not a Linux instance; ec2.localUser creates Linux users only`);
    const offline = p.instanceIds.filter((id) => known.get(id)!.PingStatus !== 'Online');
    if (offline.length > 0) {
      throw new ConnectorError('ACCESS_FAILED', `${listed(offline)} in ${where(p)} is not online in SSM (stopped, or its agent is offline); start it or fix its agent, then grant again`, { retryable: true });
    }
    // A local user (with sudo or not) can read the instance role's credentials from the
    // metadata service: the policy sees that role too.
    return { accountIds: [p.accountId], ...(await instanceFacts(ctx, p.accountId, p.region, p.instanceIds)) };
  },

  // Asks the instances themselves: the ledger cannot know whether someone removed the key
  // or the user since. Present means the user is ours, unlocked and holds this grant's key
  // on every instance.
  async describe(ctx, req): Promise<Presence> {
    const p = planOf(req);
    const res = await run(ctx, await ssmClient(ctx, p), p, 'describe', p.instanceIds);
    const failed = failuresOf(p, 'describe', res);
    if (failed) throw failed;
    const foreign = [...res].filter(([, o]) => o.result!.user === 'present' && o.result!.owner !== 'match').map(([id]) => id);
    if (foreign.length > 0) {
      throw new ConnectorError('ACCESS_REFUSED', `OS user ${p.user} already exists on ${listed(foreign)} in ${where(p)} and access-connector did not create it for this person; it is never touched. Remove or rename that user on the instance, or grant under another userName`);
    }
    const withKey = [...res].filter(([, o]) => o.result!.key === 'yes' && o.result!.locked === 'no').map(([id]) => id).sort();
    return { present: withKey.length === p.instanceIds.length, observed: { osUserName: p.user, keyFingerprint: p.fingerprint, withKey } };
  },

  async grant(ctx, req, before) {
    const p = planOf(req);
    const ssm = await beforeChange(() => ssmClient(ctx, p));
    // What was there before this grant stays: only instances where describe did not find
    // this grant's key are undone.
    const had = new Set((before.observed?.withKey as string[] | undefined) ?? []);
    let res: Map<string, Outcome>;
    try {
      res = await run(ctx, ssm, p, 'grant', p.instanceIds);
    } catch (err) {
      if (!(err instanceof ConnectorError && err.code === 'ACCESS_TIMEOUT')) throw err;
      // A hung instance may still run the grant later, after this undo: the message says so.
      const fresh = p.instanceIds.filter((id) => !had.has(id));
      const undone = await undo(ctx, ssm, p, fresh, fresh);
      throw new ConnectorError('ACCESS_TIMEOUT', `${err.message}.${undone} An instance that answers late may still apply the grant: revoke this grant to be sure.`, { cause: err });
    }
    const failed = failuresOf(p, 'grant', res);
    if (!failed) {
      const created = [...res].filter(([, o]) => o.result!.created === 'yes').map(([id]) => id).sort();
      return { osUserName: p.user, keyFingerprint: p.fingerprint, accessTag: p.tag, instanceIds: p.instanceIds, usersCreated: created };
    }
    // Leave the instances as they were: take this grant's key off where it was just added,
    // and delete the users this grant created (delete keeps a user another grant still uses).
    const added = [...res].filter(([id, o]) => o.ok && !had.has(id)).map(([id]) => id);
    const created = [...res].filter(([, o]) => o.ok && o.result!.created === 'yes').map(([id]) => id);
    const undone = await undo(ctx, ssm, p, added, created);
    const err = new ConnectorError('ACCESS_FAILED', `${failed.message.replace(/\.?$/, '.')}${undone}`, { cause: failed });
    // The instances reported the failure and the undo went through: they are as before.
    throw undone.includes(UNDO_FAILED) ? err : unchanged(err);
  },

  async revoke(ctx, req) {
    const p = planOf(req);
    const { res, gone, offline } = await onReachable(ctx, p, 'revoke');
    const failed = failuresOf(p, 'revoke', res);
    if (failed) throw failed;
    if (offline.length > 0) throw offlineError(p, 'revoke', offline);
    const notes: string[] = [];
    const locked = [...res].filter(([, o]) => o.result!.user === 'present' && o.result!.locked === 'yes').map(([id]) => id);
    const shared = [...res].filter(([, o]) => o.result!.locked === 'no' && Number(o.result!.keys) > 0).map(([id]) => id);
    if (locked.length > 0) notes.push(`${p.user} locked on ${listed(locked)}, its processes (open SSH sessions) ended`);
    if (shared.length > 0) notes.push(`${p.user} stays unlocked on ${listed(shared)}: another grant's key remains there, and SSH sessions opened with this key were not ended`);
    if (gone.length > 0) notes.push(`${listed(gone)} is no longer managed by SSM (terminated or deregistered): nothing was revoked there; if it still runs, remove ${p.user} by hand`);
    return { notes };
  },

  async cleanup(ctx, req) {
    const p = planOf(req);
    const { res, gone, offline } = await onReachable(ctx, p, 'delete');
    const failed = failuresOf(p, 'delete', res);
    if (failed) throw failed;
    if (offline.length > 0) throw offlineError(p, 'cleanup', offline);
    const inUse = [...res].filter(([, o]) => o.result!.kept === 'in-use').map(([id]) => id);
    if (inUse.length > 0) ctx.log.info({ osUser: p.user, instances: inUse }, 'ec2.localUser cleanup: OS user kept where another grant still holds a key for it');
    if (gone.length > 0) ctx.log.info({ osUser: p.user, instances: gone }, 'ec2.localUser cleanup: instances no longer managed by SSM, nothing to delete there');
  },

  accessDetails(ctx, req) {
    const p = planOf(req);
    const first = p.instanceIds[0]!;
    return {
      instructions:
        `Log in as ${p.user} with your SSH key (${p.keyType} ${p.fingerprint}) on ${p.instanceIds.length === 1 ? first : `${p.instanceIds.length} instances (${listed(p.instanceIds)})`} in ${where(p)}. ` +
        'SSH goes through Session Manager (no open port): you need the AWS CLI with the Session Manager plugin and credentials allowed to start AWS-StartSSHSession on the instance. ' +
        'The user has no password and no sudo; Session Manager does not log what happens inside SSH.',
      command: `ssh -o ProxyCommand="aws ssm start-session --target %h --document-name AWS-StartSSHSession --parameters portNumber=%p --region ${p.region}" ${p.user}@${first}`,
      revokeLimits: [
        'Revoke removes this key. When no other grant of the connector holds the user it also locks and expires the account, ends all of its processes (which closes open SSH sessions) and removes ~/.ssh, whatever the user wrote there.',
        'While another grant keeps the user unlocked, SSH sessions opened with this key stay open.',
        `Files the user left stay on the instance until the user is deleted, userCleanupAfterDays after revoke (now: ${ctx.integration.userCleanupAfterDays}).`,
      ],
      ...(ctx.integration.customAccessDetails && { custom: ctx.integration.customAccessDetails }),
    };
  },
};
