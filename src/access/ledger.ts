// The grant ledger: a DynamoDB table in the customer's account that remembers every grant
// the connector made, so expiries are honoured with the control plane away or after a
// restart, overlapping grants share access safely, and revoke never removes access that
// was there before us.
//
// One table, string keys `pk` and `sk` (the templates create it; `ledger init` for local use):
//   grant#<grantId>  / grant               the grant: request, integration, state, version
//   grant#<grantId>  / event#<time>#<rand> append-only history of the grant (never updated)
//   access#<key>     / access              the AWS access: holders (set of grant ids), preExisting, kept facts
//   lock#<key>       / lock                a lease serializing changes to one AWS object (holder, version)
// Every update is conditional on the item's version (or the lease's owner), so any number
// of replicas and jobs may act on the same grant and at most one change wins.
import { randomBytes } from 'node:crypto';
import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  DeleteItemCommand,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ScanCommand,
  UpdateItemCommand,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import type { AwsRuntime } from '../aws/runtime.js';
import { uninterruptible, withLeaseFence } from '../aws/clients.js';
import { awsErrorCode } from '../aws/errors.js';
import { parseArn } from '../aws/credentials.js';
import type { Config } from '../config.js';
import { ConnectorError, isAbortError } from '../errors.js';
import { integrationSchema, type Integration } from '../protocol/messages.js';
import type { AccessRequest } from './types.js';

/** Every DynamoDB action the ledger uses (least-privilege test, docs/permissions.md). */
export const LEDGER_ACTIONS = [
  'dynamodb:DescribeTable',
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:Query',
  'dynamodb:Scan',
] as const;
/** Only `access-connector ledger init` (local use) creates the table. */
export const LEDGER_INIT_ACTIONS = ['dynamodb:CreateTable', 'dynamodb:DescribeTable'] as const;

/**
 * pending: recorded, maybe partly applied (see changeSentAt); granted; revoking: a revoke
 * started, and only a revoke may end it (a grant is refused); revoked; cancelled / failed:
 * the job stopped before changing AWS, or AWS said the change failed (a retry with the
 * same grantId may grant it again).
 */
export type GrantState = 'pending' | 'granted' | 'revoking' | 'revoked' | 'cancelled' | 'failed';
/** States in which a grant may hold access in AWS. */
export const ACTIVE_STATES: readonly GrantState[] = ['pending', 'granted', 'revoking'];

export interface GrantRecord {
  grantId: string;
  kind: string;
  accessKey: string;
  lockKey: string;
  /** Identity of the request without its expiry: a grantId reused for other access is a conflict. */
  fingerprint: string;
  request: AccessRequest;
  integration: Integration;
  state: GrantState;
  preExisting: boolean;
  /** When the sweeper revokes it: the earlier of expiresAt and the credential rotation deadline. */
  expiresAt?: string;
  grantedAt?: string;
  /**
   * When the grant's change was sent to AWS, written before it is sent. From then on a
   * failure leaves the outcome unknown: the grant stays `pending` and holds the access
   * until AWS says otherwise, and access found in place is this grant's, never pre-existing.
   */
  changeSentAt?: string;
  revokedAt?: string;
  /** ec2.localUser: when the locked OS user is deleted (userCleanupAfterDays after revoke). */
  cleanupAt?: string;
  cleanedAt?: string;
  version: number;
  updatedAt: string;
}

export interface AccessRecord {
  accessKey: string;
  kind: string;
  fingerprint: string;
  /** Grant ids holding the access. The access is removed only when this empties. */
  holders: string[];
  /** The access existed before the first grant: no revoke ever removes it. */
  preExisting: boolean;
  /** Facts the kind kept for revoke (for example the previous boundary). */
  kept: Record<string, unknown>;
  /** The request of the grant that created the record (for reconciliation). */
  request: AccessRequest;
  integration: Integration;
  version: number;
}

export interface HistoryEvent {
  at: string;
  event: string;
  jobId?: string;
  detail?: string;
}

let eventSeq = 0;
const LOCK_TTL_MS = 120_000;
const LOCK_RENEW_MS = 30_000;
const LOCK_WAIT_MS = 90_000;

type Item = Record<string, AttributeValue>;
const S = (v: string): AttributeValue => ({ S: v });
const N = (v: number): AttributeValue => ({ N: String(v) });

/** The ledger has no record of an expected version: someone else changed it first. */
export class LedgerRace extends Error {
  constructor(what: string) {
    super(`ledger: ${what} changed concurrently`);
    this.name = 'LedgerRace';
  }
}

function isConditionFailed(err: unknown): boolean {
  return err instanceof ConditionalCheckFailedException || awsErrorCode(err) === 'ConditionalCheckFailedException';
}

/** Wraps a ledger failure so the job says LEDGER_UNAVAILABLE, which table, and what to do. */
function ledgerError(err: unknown, what: string, table: string): unknown {
  if (isAbortError(err) || err instanceof LedgerRace) return err;
  if (err instanceof ConnectorError && err.code === 'LEDGER_BUSY') return err;
  const code = awsErrorCode(err);
  const why = (err instanceof Error ? err.message : String(err)).slice(0, 1000);
  const fix = code === 'ResourceNotFoundException'
    ? 'it does not exist in this account and region: set LEDGER_TABLE to the table the templates created, or run `access-connector ledger init` to create it for local use'
    : code === 'AccessDeniedException'
      ? 'allow the connector role dynamodb:DescribeTable, GetItem, PutItem, UpdateItem, DeleteItem, Query and Scan on it (the templates do)'
      : 'check LEDGER_TABLE and the region; `access-connector ledger init` creates the table for local use';
  return new ConnectorError('LEDGER_UNAVAILABLE', `grant ledger table ${table}: ${what} failed (${code || 'error'}: ${why}); ${fix}`, { cause: err });
}

export interface LedgerOptions {
  client: DynamoDBClient;
  table: string;
  /** Identifies this process as a lock holder. */
  owner: string;
  /** Wall clock, for the times the ledger records. */
  now?: () => number;
  /** Monotonic clock, for lease waits and takeovers (never compared with another replica's). */
  monotonic?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** How often a holder renews its lease (tests shorten it). */
  renewEveryMs?: number;
}

export class Ledger {
  readonly table: string;
  private readonly client: DynamoDBClient;
  private readonly owner: string;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly monotonic: () => number;
  private readonly renewEveryMs: number;
  /** Leases this process waits for: the holder and version it saw, and since when (monotonic). */
  private readonly leasesSeen = new Map<string, { owner: string; version: number; since: number }>();
  private readonly deadlineListeners = new Set<(at: number) => void>();

  constructor(o: LedgerOptions) {
    this.client = o.client;
    this.table = o.table;
    this.owner = o.owner;
    this.now = o.now ?? Date.now;
    this.sleep = o.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.monotonic = o.monotonic ?? (() => performance.now());
    this.renewEveryMs = o.renewEveryMs ?? LOCK_RENEW_MS;
  }

  /** The ledger of the LEDGER_TABLE setting, reached with the connector's own identity; undefined when unset. */
  static async fromConfig(aws: AwsRuntime, config: Config, integration?: Integration): Promise<Ledger | undefined> {
    if (!config.ledgerTable) return undefined;
    const arn = parseArn(config.ledgerTable);
    const region = arn?.region || config.awsRegion || integration?.region;
    if (!region) throw new ConnectorError('LEDGER_UNAVAILABLE', 'LEDGER_TABLE is a table name but no region is known: set AWS_REGION or give the table ARN');
    const broker = aws.broker(region);
    const base = broker.base(integration?.profile);
    const client = aws.clients.get(DynamoDBClient, { region, accountId: arn?.accountId ?? 'self', credentials: base });
    return new Ledger({ client, table: config.ledgerTable, owner: `${config.connectorId}/${process.pid}/${randomBytes(4).toString('hex')}` });
  }

  // ---------------------------------------------------------------------------------
  // Table

  /** Creates the table (on demand billing) unless it exists. For local use; the templates create it in production. */
  async init(): Promise<'created' | 'exists'> {
    try {
      await this.client.send(new DescribeTableCommand({ TableName: this.table }));
      return 'exists';
    } catch (err) {
      if (awsErrorCode(err) !== 'ResourceNotFoundException') throw ledgerError(err, 'DescribeTable', this.table);
    }
    await this.client.send(new CreateTableCommand({
      TableName: this.table,
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'S' }],
      SSESpecification: { Enabled: true },
    }));
    return 'created';
  }

  // ---------------------------------------------------------------------------------
  // Deadlines: what this process records wakes this process's sweeper.

  /** Calls `listener` with the deadline of every active grant this process records or extends; returns the unsubscribe. */
  onDeadline(listener: (at: number) => void): () => void {
    this.deadlineListeners.add(listener);
    return () => this.deadlineListeners.delete(listener);
  }

  private noteDeadline(g: GrantRecord): void {
    if (g.expiresAt === undefined || !ACTIVE_STATES.includes(g.state)) return;
    const at = Date.parse(g.expiresAt);
    for (const l of this.deadlineListeners) l(at);
  }

  // ---------------------------------------------------------------------------------
  // Grants

  async getGrant(grantId: string): Promise<GrantRecord | undefined> {
    try {
      const r = await this.client.send(new GetItemCommand({ TableName: this.table, Key: { pk: S(`grant#${grantId}`), sk: S('grant') }, ConsistentRead: true }));
      return r.Item ? grantFromItem(r.Item) : undefined;
    } catch (err) {
      throw ledgerError(err, 'GetItem', this.table);
    }
  }

  /** Records a new grant; returns the record already there instead when the grant id is taken. */
  async createGrant(rec: Omit<GrantRecord, 'version' | 'updatedAt'>): Promise<{ created: true; record: GrantRecord } | { created: false; record: GrantRecord }> {
    const record: GrantRecord = { ...rec, version: 1, updatedAt: new Date(this.now()).toISOString() };
    try {
      await this.client.send(new PutItemCommand({
        TableName: this.table,
        Item: grantToItem(record),
        ConditionExpression: 'attribute_not_exists(pk)',
      }));
      this.noteDeadline(record);
      return { created: true, record };
    } catch (err) {
      if (!isConditionFailed(err)) throw ledgerError(err, 'PutItem', this.table);
    }
    const existing = await this.getGrant(rec.grantId);
    if (!existing) throw new LedgerRace(`grant ${rec.grantId}`);
    return { created: false, record: existing };
  }

  /** Writes `next` if the stored version is still `prev.version`; throws LedgerRace otherwise. */
  async updateGrant(prev: GrantRecord, patch: Partial<Omit<GrantRecord, 'grantId' | 'version'>>): Promise<GrantRecord> {
    const next: GrantRecord = { ...prev, ...patch, version: prev.version + 1, updatedAt: new Date(this.now()).toISOString() };
    try {
      await this.client.send(new PutItemCommand({
        TableName: this.table,
        Item: grantToItem(next),
        ConditionExpression: '#v = :v',
        ExpressionAttributeNames: { '#v': 'version' },
        ExpressionAttributeValues: { ':v': N(prev.version) },
      }));
      this.noteDeadline(next);
      return next;
    } catch (err) {
      if (isConditionFailed(err)) throw new LedgerRace(`grant ${prev.grantId}`);
      throw ledgerError(err, 'PutItem', this.table);
    }
  }

  /** Appends one history event (never overwrites one). */
  async appendEvent(grantId: string, name: string, e: Omit<HistoryEvent, 'at' | 'event'> = {}): Promise<void> {
    const at = new Date(this.now()).toISOString();
    try {
      await this.client.send(new PutItemCommand({
        TableName: this.table,
        Item: {
          // Time, then this process's sequence (events of one job in the same millisecond
          // keep their order), then randomness (two replicas never collide).
          pk: S(`grant#${grantId}`), sk: S(`event#${at}#${String(++eventSeq).padStart(10, '0')}#${randomBytes(4).toString('hex')}`), at: S(at), event: S(name),
          ...(e.jobId !== undefined && { jobId: S(e.jobId) }), ...(e.detail !== undefined && { detail: S(e.detail.slice(0, 2000)) }),
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      }));
    } catch (err) {
      throw ledgerError(err, 'PutItem', this.table);
    }
  }

  async history(grantId: string): Promise<HistoryEvent[]> {
    const out: HistoryEvent[] = [];
    let start: Item | undefined;
    try {
      do {
        const r = await this.client.send(new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :ev)',
          ExpressionAttributeValues: { ':pk': S(`grant#${grantId}`), ':ev': S('event#') },
          ConsistentRead: true,
          ...(start && { ExclusiveStartKey: start }),
        }));
        for (const i of r.Items ?? []) {
          out.push({ at: i.at?.S ?? '', event: i.event?.S ?? '', ...(i.jobId?.S && { jobId: i.jobId.S }), ...(i.detail?.S && { detail: i.detail.S }) });
        }
        start = r.LastEvaluatedKey;
      } while (start);
    } catch (err) {
      throw ledgerError(err, 'Query', this.table);
    }
    return out;
  }

  /** Every grant record, page by page (a Scan: the ledger holds thousands of grants, not millions). */
  grants(): AsyncGenerator<GrantRecord> {
    return this.scan('grant', grantFromItem);
  }

  /** Every access record (for reconciliation). */
  accesses(): AsyncGenerator<AccessRecord> {
    return this.scan('access', accessFromItem);
  }

  private async *scan<T>(sk: string, map: (i: Item) => T): AsyncGenerator<T> {
    let start: Item | undefined;
    do {
      let r;
      try {
        r = await this.client.send(new ScanCommand({
          TableName: this.table,
          FilterExpression: 'sk = :sk',
          ExpressionAttributeValues: { ':sk': S(sk) },
          ...(start && { ExclusiveStartKey: start }),
        }));
      } catch (err) {
        throw ledgerError(err, 'Scan', this.table);
      }
      for (const i of r.Items ?? []) yield map(i);
      start = r.LastEvaluatedKey;
    } while (start);
  }

  // ---------------------------------------------------------------------------------
  // Access records

  async getAccess(accessKey: string): Promise<AccessRecord | undefined> {
    try {
      const r = await this.client.send(new GetItemCommand({ TableName: this.table, Key: { pk: S(`access#${accessKey}`), sk: S('access') }, ConsistentRead: true }));
      return r.Item ? accessFromItem(r.Item) : undefined;
    } catch (err) {
      throw ledgerError(err, 'GetItem', this.table);
    }
  }

  /** Creates (prev undefined) or replaces (version-checked) the access record. */
  async putAccess(prev: AccessRecord | undefined, next: Omit<AccessRecord, 'version'>): Promise<AccessRecord> {
    const rec: AccessRecord = { ...next, holders: [...new Set(next.holders)].sort(), version: (prev?.version ?? 0) + 1 };
    try {
      await this.client.send(new PutItemCommand({
        TableName: this.table,
        Item: accessToItem(rec),
        ...(prev
          ? { ConditionExpression: '#v = :v', ExpressionAttributeNames: { '#v': 'version' }, ExpressionAttributeValues: { ':v': N(prev.version) } }
          : { ConditionExpression: 'attribute_not_exists(pk)' }),
      }));
      return rec;
    } catch (err) {
      if (isConditionFailed(err)) throw new LedgerRace(`access ${next.accessKey}`);
      throw ledgerError(err, 'PutItem', this.table);
    }
  }

  async deleteAccess(prev: AccessRecord): Promise<void> {
    try {
      await this.client.send(new DeleteItemCommand({
        TableName: this.table,
        Key: { pk: S(`access#${prev.accessKey}`), sk: S('access') },
        ConditionExpression: '#v = :v',
        ExpressionAttributeNames: { '#v': 'version' },
        ExpressionAttributeValues: { ':v': N(prev.version) },
      }));
    } catch (err) {
      if (isConditionFailed(err)) throw new LedgerRace(`access ${prev.accessKey}`);
      throw ledgerError(err, 'DeleteItem', this.table);
    }
  }

  // ---------------------------------------------------------------------------------
  // Locks
  //
  // A lease item holds its holder's token and a version that every renewal bumps. No clock
  // is compared across replicas: a waiter takes a lease over only once it has seen the same
  // holder at the same version for a whole TTL on its own monotonic clock, and a holder
  // whose renewals have failed for most of a TTL stops before its next change to AWS (the
  // fence), so a lease is never held twice whatever the replicas' clocks say.

  /**
   * Runs `fn` holding the lease on `key`. A live holder renews the lease; one that died stops
   * renewing, and a waiter takes the lease over after one TTL (2 minutes) without change.
   * Waiting is cancelled by `signal` (nothing has been changed yet while waiting). Inside
   * `fn`, every AWS call that changes something first checks the lease (LEDGER_LEASE_LOST).
   */
  async withLock<T>(key: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const pk = S(`lock#${key}`);
    // One token per acquisition: two jobs of the same process are two holders.
    const me = `${this.owner}/${randomBytes(6).toString('hex')}`;
    const waitStarted = this.monotonic();
    let delay = 100;
    let lastRenewSent = 0;
    for (;;) {
      signal?.throwIfAborted();
      const seen = this.leasesSeen.get(key);
      const stale = seen !== undefined && this.monotonic() - seen.since >= LOCK_TTL_MS ? seen : undefined;
      const sentAt = this.monotonic();
      try {
        // Not cancellable: aborted in flight, the write may still land, and a lease nobody
        // knows it holds would block the next job on this object for its whole TTL. The
        // caller's own token passes the condition: when the answer to this write is lost
        // and the SDK sends it again, the lease it already holds is not someone else's.
        await uninterruptible(() => this.client.send(new PutItemCommand({
          TableName: this.table,
          Item: { pk, sk: S('lock'), owner: S(me), version: N((stale?.version ?? 0) + 1) },
          ConditionExpression: stale ? '(#o = :seen AND #v = :seenVersion) OR #o = :me' : 'attribute_not_exists(pk) OR #o = :me',
          ExpressionAttributeNames: { '#o': 'owner', ...(stale && { '#v': 'version' }) },
          ExpressionAttributeValues: { ':me': S(me), ...(stale && { ':seen': S(stale.owner), ':seenVersion': N(stale.version) }) },
        })));
        lastRenewSent = sentAt;
        if (this.leasesSeen.get(key) === seen) this.leasesSeen.delete(key);
        break;
      } catch (err) {
        if (!isConditionFailed(err)) throw ledgerError(err, 'PutItem (lock)', this.table);
      }
      // Held by someone: note who and at which version, unless we already did.
      const cur = await this.readLease(pk);
      const known = this.leasesSeen.get(key);
      if (cur && (!known || known.owner !== cur.owner || known.version !== cur.version)) this.leasesSeen.set(key, { ...cur, since: this.monotonic() });
      if (this.monotonic() - waitStarted > LOCK_WAIT_MS) throw new ConnectorError('LEDGER_BUSY', `grant ledger: the lock on ${key} stayed held for ${LOCK_WAIT_MS / 1000} s`);
      if (!cur) continue; // released in between: try again at once
      await this.sleep(delay * (0.5 + Math.random()));
      delay = Math.min(delay * 2, 2000);
    }
    // Renewal and release ignore the job's cancellation: a cancelled job still finishes
    // what it started under the lock, and must not leave the lease behind for 2 minutes.
    let lost = false;
    const renew = setInterval(() => {
      const sent = this.monotonic();
      void uninterruptible(() => this.client.send(new UpdateItemCommand({
        TableName: this.table,
        Key: { pk, sk: S('lock') },
        UpdateExpression: 'SET #v = #v + :one',
        ConditionExpression: '#o = :me',
        ExpressionAttributeNames: { '#v': 'version', '#o': 'owner' },
        ExpressionAttributeValues: { ':one': N(1), ':me': S(me) },
      })))
        .then(() => { lastRenewSent = Math.max(lastRenewSent, sent); })
        // Taken over: ours no more. Any other failure: the fence stops the work in time.
        .catch((err: unknown) => { if (isConditionFailed(err)) lost = true; });
    }, this.renewEveryMs);
    renew.unref?.();
    // A waiter may take the lease over a TTL after the last renewal it saw; the holder stops
    // a renewal interval before that, measured from when that renewal was sent.
    const fence = () => {
      const since = this.monotonic() - lastRenewSent;
      if (lost || since > LOCK_TTL_MS - LOCK_RENEW_MS) {
        throw new ConnectorError('LEDGER_LEASE_LOST', `grant ledger: the lock on ${key} ${lost ? 'was taken over' : `could not be renewed for ${Math.round(since / 1000)} s`}; stopped before the next change to AWS`);
      }
    };
    try {
      return await withLeaseFence(fence, fn);
    } finally {
      clearInterval(renew);
      await uninterruptible(() => this.client
        .send(new DeleteItemCommand({
          TableName: this.table,
          Key: { pk, sk: S('lock') },
          ConditionExpression: '#o = :me',
          ExpressionAttributeNames: { '#o': 'owner' },
          ExpressionAttributeValues: { ':me': S(me) },
        }))
        // A lease we lost (taken over) is not ours to delete.
        .catch(() => undefined));
    }
  }

  /** The lease's holder and version, read consistently (undefined when free). */
  private async readLease(pk: AttributeValue): Promise<{ owner: string; version: number } | undefined> {
    try {
      const r = await this.client.send(new GetItemCommand({ TableName: this.table, Key: { pk, sk: S('lock') }, ConsistentRead: true }));
      if (!r.Item) return undefined;
      return { owner: r.Item.owner?.S ?? '', version: Number(r.Item.version?.N ?? '0') };
    } catch (err) {
      throw ledgerError(err, 'GetItem (lock)', this.table);
    }
  }
}

// -------------------------------------------------------------------------------------
// Item mapping. Requests and integrations are stored as JSON strings: they are read back
// through their schemas, never trusted as typed objects.

function grantToItem(g: GrantRecord): Item {
  return {
    pk: S(`grant#${g.grantId}`), sk: S('grant'),
    grantId: S(g.grantId), kind: S(g.kind), accessKey: S(g.accessKey), lockKey: S(g.lockKey), fingerprint: S(g.fingerprint),
    request: S(JSON.stringify(g.request)), integration: S(JSON.stringify(g.integration)),
    state: S(g.state), preExisting: { BOOL: g.preExisting }, version: N(g.version), updatedAt: S(g.updatedAt),
    ...(g.expiresAt !== undefined && { expiresAt: S(g.expiresAt) }),
    ...(g.grantedAt !== undefined && { grantedAt: S(g.grantedAt) }),
    ...(g.changeSentAt !== undefined && { changeSentAt: S(g.changeSentAt) }),
    ...(g.revokedAt !== undefined && { revokedAt: S(g.revokedAt) }),
    ...(g.cleanupAt !== undefined && { cleanupAt: S(g.cleanupAt) }),
    ...(g.cleanedAt !== undefined && { cleanedAt: S(g.cleanedAt) }),
  };
}

function grantFromItem(i: Item): GrantRecord {
  const str = (k: string) => i[k]?.S;
  return {
    grantId: str('grantId') ?? '', kind: str('kind') ?? '', accessKey: str('accessKey') ?? '', lockKey: str('lockKey') ?? '',
    fingerprint: str('fingerprint') ?? '',
    request: JSON.parse(str('request') ?? '{}') as AccessRequest,
    integration: integrationSchema.parse(JSON.parse(str('integration') ?? '{}')),
    state: (str('state') ?? 'pending') as GrantState,
    preExisting: i.preExisting?.BOOL ?? false,
    version: Number(i.version?.N ?? '0'),
    updatedAt: str('updatedAt') ?? '',
    ...(str('expiresAt') !== undefined && { expiresAt: str('expiresAt')! }),
    ...(str('grantedAt') !== undefined && { grantedAt: str('grantedAt')! }),
    ...(str('changeSentAt') !== undefined && { changeSentAt: str('changeSentAt')! }),
    ...(str('revokedAt') !== undefined && { revokedAt: str('revokedAt')! }),
    ...(str('cleanupAt') !== undefined && { cleanupAt: str('cleanupAt')! }),
    ...(str('cleanedAt') !== undefined && { cleanedAt: str('cleanedAt')! }),
  };
}

function accessToItem(a: AccessRecord): Item {
  return {
    pk: S(`access#${a.accessKey}`), sk: S('access'),
    accessKey: S(a.accessKey), kind: S(a.kind), fingerprint: S(a.fingerprint),
    // A JSON list rather than a DynamoDB string set: sets cannot be empty, and an empty
    // holder list is a state we write (access kept because it was pre-existing).
    holders: S(JSON.stringify(a.holders)),
    preExisting: { BOOL: a.preExisting }, kept: S(JSON.stringify(a.kept)),
    request: S(JSON.stringify(a.request)), integration: S(JSON.stringify(a.integration)), version: N(a.version),
  };
}

function accessFromItem(i: Item): AccessRecord {
  const str = (k: string) => i[k]?.S;
  return {
    accessKey: str('accessKey') ?? '', kind: str('kind') ?? '', fingerprint: str('fingerprint') ?? '',
    holders: JSON.parse(str('holders') ?? '[]') as string[],
    preExisting: i.preExisting?.BOOL ?? false,
    kept: JSON.parse(str('kept') ?? '{}') as Record<string, unknown>,
    request: JSON.parse(str('request') ?? '{}') as AccessRequest,
    integration: integrationSchema.parse(JSON.parse(str('integration') ?? '{}')),
    version: Number(i.version?.N ?? '0'),
  };
}
