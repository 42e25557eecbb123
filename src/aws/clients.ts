// Every AWS SDK client the connector uses is made here, so that region, endpoint, retry,
// user agent, client-side rate limiting, metrics and cancellation are set in one place.
//
// Endpoints: the SDK itself honours AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_<SERVICE> and
// AWS_USE_FIPS_ENDPOINT, and resolves partition-correct endpoints from the region, so
// nothing here hard-codes a host.
import { AsyncLocalStorage } from 'node:async_hooks';
import { Agent as HttpsAgent } from 'node:https';
import type { NodeHttpHandler, NodeHttpHandlerOptions } from '@smithy/node-http-handler';
import type { Logger } from '../log.js';
import { classifyAwsError, isExpiredCredentials, isThrottle } from './errors.js';
import { RateLimiter } from './limiter.js';
import { Sha256 } from './sha256.js';
import { AWS_RATES, GLOBAL_FAMILIES, familyOf } from './quotas.js';
import { ConnectorError } from '../errors.js';

/** IAM's service prefix of each SDK client this project uses. */
const IAM_PREFIX: Record<string, string> = {
  IAMClient: 'iam', OrganizationsClient: 'organizations', SSOAdminClient: 'sso', IdentitystoreClient: 'identitystore',
  SSMClient: 'ssm', ResourceExplorer2Client: 'resource-explorer-2', AccountClient: 'account', CloudTrailClient: 'cloudtrail',
  DynamoDBClient: 'dynamodb', STSClient: 'sts', EC2Client: 'ec2',
};

/** Operations authorized by an action of another name (the API reference's "minimum permissions"). */
const ACTION_OF_OPERATION: Record<string, string> = {
  'resource-explorer-2:ListResources': 'resource-explorer-2:Search',
};

/** The IAM action a command needs, e.g. `sso:ListInstances` for SSOAdminClient + ListInstancesCommand. */
export function iamActionOf(clientName: string, commandName: string): string {
  const op = `${IAM_PREFIX[clientName] ?? clientName}:${commandName.replace(/Command$/, '')}`;
  return ACTION_OF_OPERATION[op] ?? op;
}

/** Per-job figures, filled by the middleware for calls made inside runInAwsScope(). */
export interface AwsCallStats {
  calls: number;
  throttles: number;
  errors: number;
  byService: Record<string, number>;
}

export function newAwsCallStats(): AwsCallStats {
  return { calls: 0, throttles: 0, errors: 0, byService: {} };
}

interface AwsScope {
  signal?: AbortSignal;
  stats?: AwsCallStats;
  /** Throws when the ledger lease the work runs under may no longer be ours (withLeaseFence). */
  fence?: () => void;
  /** Calls get their rate-limit token before the other waiters of their bucket (firstInLine). */
  first?: boolean;
}

const scopeStorage = new AsyncLocalStorage<AwsScope>();

/**
 * Runs `fn` so that every AWS call inside it is aborted by `signal` (pending requests and
 * waits for a rate-limit token alike) and counted in `stats`.
 */
export function runInAwsScope<T>(scope: AwsScope, fn: () => Promise<T>): Promise<T> {
  return scopeStorage.run(scope, fn);
}

/**
 * Runs `fn` outside any job's scope: for work shared by several jobs (a role session
 * several jobs wait for), which one job's cancellation must not abort.
 */
export function outsideAwsScope<T>(fn: () => Promise<T>): Promise<T> {
  return scopeStorage.exit(fn);
}

/**
 * Runs `fn` in the current scope, its AWS calls waiting behind at most one of the calls
 * already waiting for their bucket (RateLimiter.acquire's `first`): for calls whose answers
 * many others depend on (the organization walk lists the tree ahead of its tag reads,
 * src/sync/sources/organization.ts). A caller that asks again at once gets every other
 * token, so the others are slowed, never stopped; the bucket's rate is unchanged.
 */
export function firstInLine<T>(fn: () => Promise<T>): Promise<T> {
  return scopeStorage.run({ ...scopeStorage.getStore(), first: true }, fn);
}

/**
 * Runs `fn` in the current job's scope minus its cancellation: once a grant or revoke has
 * made a mutating call it must finish (or undo) it, so a job.cancel arriving then must not
 * abort the calls that complete it. Calls are still counted in the job's stats.
 */
export function uninterruptible<T>(fn: () => Promise<T>): Promise<T> {
  const current = scopeStorage.getStore();
  return scopeStorage.run({ ...(current?.stats !== undefined && { stats: current.stats }), ...(current?.fence !== undefined && { fence: current.fence }) }, fn);
}

/**
 * Runs `fn` so that every AWS call inside it that may change something (neither the
 * ledger's DynamoDB, nor STS credentials, nor a Get/List/Describe/Lookup/Search read) first
 * calls `fence`, which throws once the ledger lease `fn` runs under may have been taken
 * over: the work stops before its next change instead of racing the new holder.
 */
export function withLeaseFence<T>(fence: () => void, fn: () => Promise<T>): Promise<T> {
  return scopeStorage.run({ ...scopeStorage.getStore(), fence }, fn);
}

const UNFENCED_SERVICES = new Set(['dynamodb', 'sts']);
const READ_OPERATION = /^(Get|List|Describe|Lookup|Search|BatchGet)/;

/** Where the factory reports calls (the daemon's Prometheus metrics). */
export interface AwsMetricsSink {
  call(service: string, operation: string, outcome: 'ok' | 'throttled' | 'error', seconds: number): void;
}

/** A source of credentials, as made by CredentialBroker. */
export interface CredentialSource {
  key: string;
  /** The role whose credentials these are, when assumed (for error messages). */
  roleArn?: string;
  provider: () => Promise<{ accessKeyId: string; secretAccessKey: string; sessionToken?: string; expiration?: Date }>;
  invalidate(): void;
}

/**
 * The SDK clients' logger. It has no `info` (nor `error`): the SDK's logger middleware calls
 * `logger?.info?.({ input, output })` after every call, and with the SDK's default no-op
 * logger it first builds those arguments, a copy of the whole response with sensitive
 * members masked, made and thrown away on every call (1.6 % of the connector's CPU in a
 * 1,000-account sync, and as much garbage as the responses themselves). The SDK calls
 * `debug`, `warn` and `trace` without checking, so those exist. Its warnings (sockets all
 * in use with requests queued, a request past its timeout, a response it could not
 * deserialize) went to the console before; they are the connector's log lines now.
 */
export function sdkLogger(log: Logger): { debug(): void; trace(): void; warn(message: unknown): void } {
  return {
    debug: () => undefined,
    trace: () => undefined,
    warn: (message) => log.warn({ event: 'aws.sdk_warning' }, `AWS SDK: ${String(message).slice(0, 300)}`),
  };
}

/** The part of an SDK client the factory needs; every v3 client has it. */
interface SdkClient {
  middlewareStack: {
    add(mw: (next: (args: unknown) => Promise<unknown>, context: Record<string, unknown>) => (args: unknown) => Promise<unknown>, opts: Record<string, unknown>): void;
  };
  destroy(): void;
}

export interface ClientScope {
  region: string;
  /** Account the calls act in: the key of the rate-limit buckets. */
  accountId: string;
  credentials: CredentialSource;
}

export interface AwsClientsOptions {
  userAgent: string;
  /**
   * Every IAM action some part of the connector declares (src/permissions.ts
   * `declaredActions()`): the factory refuses any other. Given by whoever composes the
   * process, so this layer imports nothing above it.
   */
  declaredActions: ReadonlySet<string>;
  /** Share of AWS's published rate the connector may use (0 < share ≤ 1). */
  quotaShare: number;
  /** Multiplier of AWS's rates (raised quotas, or a time-scaled simulator). Default 1. */
  quotaMultiplier?: number;
  log: Logger;
  metrics?: AwsMetricsSink;
  /** SDK attempts per call, throttling included (adaptive retry mode). */
  maxAttempts?: number;
  /** HTTPS_PROXY: AWS's endpoints are reached through it with HTTP CONNECT, as the control plane is. */
  proxy?: URL;
  /** NO_PROXY entries (hosts, `.domain` suffixes, `*`). */
  noProxy?: readonly string[];
  /**
   * How long a call keeps going when AWS still throttles it after the SDK's retries
   * (default 0: the throttling error is final). The daemon sets it; tests of the layer alone
   * keep the SDK's behaviour.
   */
  throttlePatienceMs?: number;
}

/**
 * New sessions tried for one call that AWS answers ExpiredToken. More than one: a session
 * fetched while AWS was revoking, or one that ran out while the call waited for its rate
 * limit, is dead too.
 */
const EXPIRED_RENEWALS = 3;
const THROTTLE_PAUSE_MAX_MS = 10_000;

/** Waits `ms`, or rejects with the signal's reason when it fires first. */
function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason as Error);
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason as Error);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

type HttpRequest = Parameters<NodeHttpHandler['handle']>[0];
type HandlerOptions = Parameters<NodeHttpHandler['handle']>[1];

/**
 * The one HTTP handler of every client. It passes the scope's AbortSignal to every request
 * the SDK sends, and imports @smithy/node-http-handler with the first request: a daemon
 * waiting for work sends none. The SDK takes any object with handle() as the handler.
 */
class ScopedHttpHandler {
  private made: NodeHttpHandler | undefined;
  private loading: Promise<NodeHttpHandler> | undefined;
  /** Settings the SDK gave before the handler was made (updateHttpClientConfig). */
  private readonly updates: Array<Parameters<NodeHttpHandler['updateHttpClientConfig']>> = [];
  private destroyed = false;

  constructor(private readonly options: NodeHttpHandlerOptions) {}

  private handler(): Promise<NodeHttpHandler> {
    return (this.loading ??= import('@smithy/node-http-handler').then(({ NodeHttpHandler }) => {
      const h = new NodeHttpHandler(this.options);
      for (const [key, value] of this.updates.splice(0)) h.updateHttpClientConfig(key, value);
      if (this.destroyed) h.destroy();
      return (this.made = h);
    }));
  }

  async handle(request: HttpRequest, options: HandlerOptions = {}) {
    const signal = options.abortSignal ?? scopeStorage.getStore()?.signal;
    return (await this.handler()).handle(request, { ...options, ...(signal !== undefined && { abortSignal: signal }) });
  }

  updateHttpClientConfig(...args: Parameters<NodeHttpHandler['updateHttpClientConfig']>): void {
    if (this.made) this.made.updateHttpClientConfig(...args);
    else this.updates.push(args);
  }

  httpHandlerConfigs() {
    return this.made?.httpHandlerConfigs() ?? {};
  }

  destroy(): void {
    this.destroyed = true;
    this.made?.destroy();
  }
}

function serviceOf(clientName: unknown): string {
  return String(clientName ?? 'Unknown').replace(/Client$/, '');
}
function operationOf(commandName: unknown): string {
  return String(commandName ?? 'Unknown').replace(/Command$/, '');
}

/**
 * Clients kept for reuse. A sync touches thousands of (account, region) pairs and an SDK
 * client is 10–30 kilobytes, so only the most recently used stay cached; an evicted
 * client is merely forgotten (its unit may still be using it), never destroyed, because
 * every client shares the one HTTP handler below.
 *
 * Twice the sync's unit concurrency: a member account's client serves the one unit that
 * asked for it, so what is reused is the management identity's clients, and in a
 * 1,000-account sync no client was asked for again after more than 8 others (LRU replayed
 * over the sync's requests: 6,930 clients made with any cap from 16 up). A cap of 256 held
 * about 8.6 MB of a 46 MB live heap mid-sync (heap snapshots, bench/heap-summary.ts) for
 * no reuse.
 */
const MAX_CACHED_CLIENTS = 64;

export class AwsClients {
  private readonly cache = new Map<string, SdkClient>();
  readonly limiter = new RateLimiter();
  /** One socket pool for every client. */
  private readonly handler: ScopedHttpHandler;
  /**
   * What every SDK client gets, the factory's and those it does not make (the credential
   * chain's): the shared socket pool (and proxy), the logger (sdkLogger) and the signing
   * hash (src/aws/sha256.ts). One logger for all matters: the shared socket pool keeps the
   * logger of the first client made with it, for its own warnings.
   */
  readonly sdkConfig: { requestHandler: ScopedHttpHandler; logger: ReturnType<typeof sdkLogger>; sha256: typeof Sha256 };

  constructor(readonly opts: AwsClientsOptions) {
    if (!(opts.quotaShare > 0 && opts.quotaShare <= 1)) throw new Error('quotaShare must be in (0, 1]');
    // Node's own proxy support (24.5+): CONNECT through the proxy for every https endpoint
    // not in NO_PROXY, Proxy-Authorization from the URL's credentials, which never appear
    // in its error messages. The SDK alone ignores HTTPS_PROXY.
    const httpsAgent = new HttpsAgent({
      keepAlive: true,
      maxSockets: 50,
      ...(opts.proxy && { proxyEnv: { HTTPS_PROXY: opts.proxy.href, NO_PROXY: (opts.noProxy ?? []).join(',') } }),
    } as ConstructorParameters<typeof HttpsAgent>[0]);
    this.handler = new ScopedHttpHandler({ connectionTimeout: 5_000, requestTimeout: 60_000, httpsAgent });
    this.sdkConfig = { requestHandler: this.handler, logger: sdkLogger(opts.log), sha256: Sha256 };
  }

  private readonly classIds = new WeakMap<object, number>();
  /** A number per client class: its `name` need not be unique once bundled. */
  private classId(Ctor: object): number {
    let id = this.classIds.get(Ctor);
    if (id === undefined) this.classIds.set(Ctor, (id = this.nextClassId++));
    return id;
  }
  private nextClassId = 0;

  /** The client of `Ctor` for this scope, made once and reused. */
  get<C extends object>(Ctor: new (config: Record<string, unknown>) => C, scope: ClientScope): C {
    const key = `${this.classId(Ctor)}|${scope.region}|${scope.accountId}|${scope.credentials.key}`;
    let client = this.cache.get(key);
    if (client) {
      // Most recently used last, so eviction takes the oldest.
      this.cache.delete(key);
      this.cache.set(key, client);
    } else {
      client = new Ctor({
        ...this.sdkConfig,
        region: scope.region,
        credentials: scope.credentials.provider,
        retryMode: 'adaptive',
        maxAttempts: this.opts.maxAttempts ?? 8,
        customUserAgent: this.opts.userAgent,
      }) as unknown as SdkClient;
      this.instrument(client, scope);
      this.cache.set(key, client);
      if (this.cache.size > MAX_CACHED_CLIENTS) this.cache.delete(this.cache.keys().next().value!);
    }
    return client as unknown as C;
  }

  /** Rate of one family for one account at the configured share. */
  rate(family: ReturnType<typeof familyOf>): number {
    return AWS_RATES[family] * this.opts.quotaShare * (this.opts.quotaMultiplier ?? 1);
  }

  private instrument(client: SdkClient, scope: ClientScope): void {
    // Before anything else: an action no source, kind or helper declares is one the
    // templates do not grant (src/permissions.ts, given as opts.declaredActions). Refusing it here, in every test as in
    // production, is what keeps the declarations, the templates and docs/permissions.md true.
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const action = iamActionOf(String(context['clientName']), String(context['commandName']));
        if (!this.opts.declaredActions.has(action)) {
          throw new ConnectorError('UNDECLARED_AWS_ACTION', `refused to call ${action}: no part of the connector declares it (src/permissions.ts)`);
        }
        return next(args);
      },
      { step: 'initialize', name: 'accessConnectorDeclaredActions', priority: 'high' },
    );
    // A change made under a ledger lease that may be lost never leaves (withLeaseFence).
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const fence = scopeStorage.getStore()?.fence;
        if (fence && !UNFENCED_SERVICES.has(serviceOf(context['clientName']).toLowerCase()) && !READ_OPERATION.test(operationOf(context['commandName']))) fence();
        return next(args);
      },
      { step: 'initialize', name: 'accessConnectorLeaseFence', priority: 'high' },
    );
    // Outermost: replace credentials AWS no longer honours, outwait throttling the SDK's own
    // retries gave up on (when the factory is patient), then give every error a code.
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const service = serviceOf(context['clientName']);
        const operation = operationOf(context['commandName']);
        const started = Date.now();
        let renewals = 0;
        for (let round = 0; ; round++) {
          try {
            return await next(args);
          } catch (err) {
            const signal = scopeStorage.getStore()?.signal;
            if (isExpiredCredentials(err) && renewals < EXPIRED_RENEWALS) {
              // A session AWS no longer honours (revoked, or expired early): get new
              // credentials and try again. The SDK re-reads our provider within ~2 s.
              renewals++;
              this.opts.log.debug({ service, operation, accountId: scope.accountId }, 'AWS credentials expired; refreshing');
              scope.credentials.invalidate();
              await pause(2_100, signal);
              continue;
            }
            const patience = this.opts.throttlePatienceMs ?? 0;
            if (isThrottle(err) && Date.now() - started < patience) {
              // A throttled request was not carried out, so sending it again is safe, also
              // for writes. A storm longer than the SDK's retries must not fail a sync unit
              // or a grant: AWS says "slow down", not "no".
              const cap = Math.min(THROTTLE_PAUSE_MAX_MS, 1_000 * 2 ** Math.min(round, 4));
              this.opts.log.debug({ service, operation, accountId: scope.accountId }, 'AWS kept throttling after the SDK retries; waiting');
              await pause(cap / 2 + Math.random() * (cap / 2), signal);
              continue;
            }
            throw classifyAwsError(err, { service, operation, accountId: scope.accountId, region: scope.region, ...(scope.credentials.roleArn !== undefined && { roleArn: scope.credentials.roleArn }) });
          }
        }
      },
      { step: 'initialize', name: 'accessConnectorErrors', priority: 'high' },
    );
    // IAM answers a quota that is full (trust policy or inline policy size, entities per
    // account) with LimitExceeded, which the SDK maps to LimitExceededException, a name
    // its retry strategy counts as throttling: the same doomed write would be resent 8
    // times. Renamed inside the retry loop, the error is final, and keeps its class.
    // Told by the client name the SDK puts in the context, not by the class's own name,
    // which a bundler may change.
    client.middlewareStack.add(
      (next, context) => async (args) => {
        try {
          return await next(args);
        } catch (err) {
          if (context['clientName'] === 'IAMClient' && (err as { name?: unknown } | null)?.name === 'LimitExceededException') (err as { name: string }).name = 'LimitExceeded';
          throw err;
        }
      },
      { step: 'finalizeRequest', priority: 'low', name: 'iamQuotaErrorIsFinal' },
    );
    // Innermost of the retry loop: every attempt waits for a token and is measured.
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const service = serviceOf(context['clientName']);
        const operation = operationOf(context['commandName']);
        const family = familyOf(service, operation);
        const store = scopeStorage.getStore();
        const bucket = GLOBAL_FAMILIES.has(family) ? `${scope.accountId}|${family}` : `${scope.accountId}|${family}|${scope.region}`;
        await this.limiter.acquire(bucket, this.rate(family), store?.signal, store?.first === true);
        const started = process.hrtime.bigint();
        const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
        const stats = store?.stats;
        if (stats) {
          stats.calls++;
          stats.byService[service] = (stats.byService[service] ?? 0) + 1;
        }
        try {
          const out = await next(args);
          this.opts.metrics?.call(service, operation, 'ok', seconds());
          return out;
        } catch (err) {
          const throttled = isThrottle(err);
          if (stats) {
            if (throttled) stats.throttles++;
            else stats.errors++;
          }
          this.opts.metrics?.call(service, operation, throttled ? 'throttled' : 'error', seconds());
          if (throttled) this.opts.log.debug({ service, operation, accountId: scope.accountId }, 'AWS throttled a call; the SDK backs off');
          throw err;
        }
      },
      { step: 'finalizeRequest', name: 'accessConnectorLimiter', priority: 'low' },
    );
  }

  /** Closes the shared sockets. */
  destroy(): void {
    this.cache.clear();
    this.handler.destroy();
  }
}
