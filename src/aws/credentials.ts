// Credentials: the connector's own identity from the SDK's default chain (ECS task role,
// EKS IRSA web identity, EKS Pod Identity, environment, or a named profile), then the
// management role by AssumeRole with ExternalId, then member-account roles as a second hop.
//
// Each role's session is cached once per (role, ExternalId, source) and refreshed five
// minutes before it expires, so a sync longer than a chained session's one hour keeps
// going. SDK clients keep their own copy only for ~2 s (see `sdkProvider`), which is what
// lets an early-revoked session be replaced after one ExpiredToken.
import { ConnectorError } from '../errors.js';
import type { Logger } from '../log.js';
import { awsErrorCode } from './errors.js';
import { outsideAwsScope, type AwsClients, type CredentialSource } from './clients.js';

// The STS client and the credential provider chain are imported on first use: an idle
// daemon holds neither.
const sdk = () => import('@aws-sdk/client-sts');

type Creds = { accessKeyId: string; secretAccessKey: string; sessionToken?: string; expiration?: Date };

/** Refresh this long before expiry. */
const REFRESH_MARGIN_MS = 5 * 60_000;
/** The SDK treats identities within 5 min of expiry as expired; we report 5 min + this. */
const SDK_MEMO_MS = 2_000;
/** Chained role sessions last at most one hour (AWS). */
const CHAINED_SESSION_SECONDS = 3600;

/** A role session name AWS accepts: 2–64 chars of [\w+=,.@-]. */
export function roleSessionName(connectorId: string): string {
  const name = `access-connector-${connectorId}`.replace(/[^\w+=,.@-]/g, '-').slice(0, 64);
  return name.length >= 2 ? name : 'access-connector';
}

export interface Arn {
  partition: string;
  service: string;
  region: string;
  accountId: string;
  resource: string;
}

export function parseArn(arn: string): Arn | undefined {
  const m = /^arn:([\w-]+):([\w-]+):([\w-]*):(\d{12}|aws|):(.+)$/.exec(arn);
  if (!m) return undefined;
  return { partition: m[1]!, service: m[2]!, region: m[3]!, accountId: m[4]!, resource: m[5]! };
}

/** `arn:<partition>:iam::<account>:role/<name>` — the member role in another account. */
export function roleArnIn(partition: string, accountId: string, roleName: string): string {
  return `arn:${partition}:iam::${accountId}:role/${roleName}`;
}

/** Wraps a refreshing provider into one the SDK re-reads every couple of seconds. */
function memoized(fetch: () => Promise<Creds>): { provider: () => Promise<Creds>; invalidate(): void } {
  let current: Creds | undefined;
  let pending: Promise<Creds> | undefined;
  const fresh = (c: Creds | undefined) => c !== undefined && (c.expiration === undefined || c.expiration.getTime() - Date.now() > REFRESH_MARGIN_MS);
  const get = async (): Promise<Creds> => {
    if (fresh(current)) return current!;
    // Shared by every job using this role: made outside the caller's job scope, so one
    // job's cancellation cannot fail the others waiting on the same session.
    pending ??= outsideAwsScope(fetch).finally(() => {
      pending = undefined;
    });
    current = await pending;
    return current;
  };
  return {
    provider: async () => {
      const c = await get();
      // The SDK caches an identity until 5 min before its expiration; handing it a
      // short one keeps the real cache here, where invalidate() can reach it.
      const sdkExpiry = Date.now() + REFRESH_MARGIN_MS + SDK_MEMO_MS;
      const expiration = c.expiration ? new Date(Math.min(c.expiration.getTime(), sdkExpiry)) : new Date(sdkExpiry);
      return { ...c, expiration };
    },
    invalidate: () => {
      current = undefined;
    },
  };
}

export interface BrokerOptions {
  clients: AwsClients;
  connectorId: string;
  log: Logger;
  /** Region for STS calls (regional STS endpoints). */
  region: string;
}

/**
 * Sources kept, most recently used first out of eviction. A sync assumes the member role of
 * every account, ten thousand in a large organization, and uses each for a few seconds
 * (its units are planned together); an evicted source still serves whoever holds it, and
 * the next use of its role assumes it again. Kept this high because sessions are reused
 * across syncs: a delta sync within the hour reads every account's CloudTrail through its
 * member role, and Resource Explorer's fallback reads every account after the walk. A
 * source is about 1.3 KB with the simulator's 68-character session tokens (AWS's tokens
 * are several hundred characters longer): 1.3–2 MB in all (docs/performance.md).
 */
export const MAX_CREDENTIAL_SOURCES = 1024;

export class CredentialBroker {
  private readonly sources = new Map<string, CredentialSource>();

  /** The source under `key`, now the most recently used. */
  private cached(key: string): CredentialSource | undefined {
    const src = this.sources.get(key);
    if (src) {
      this.sources.delete(key);
      this.sources.set(key, src);
    }
    return src;
  }

  private keep(src: CredentialSource): void {
    this.sources.set(src.key, src);
    for (const oldest of this.sources.keys()) {
      if (this.sources.size <= MAX_CREDENTIAL_SOURCES) break;
      this.sources.delete(oldest);
    }
  }

  /** Sources held (for tests). */
  get size(): number {
    return this.sources.size;
  }

  constructor(private readonly opts: BrokerOptions) {}

  /** The connector's own identity; `profile` names a profile in a mounted AWS config. */
  base(profile?: string): CredentialSource {
    const key = `base:${profile ?? ''}`;
    let src = this.cached(key);
    if (!src) {
      // The chain's own STS client (IRSA's AssumeRoleWithWebIdentity) shares our sockets
      // and so our proxy, our logger and our signing hash (AwsClients.sdkConfig; cast: the
      // SDK's Logger type wants the info and error our logger leaves out on purpose); the
      // container credential endpoints are link-local and never proxied.
      let chain: (() => Promise<unknown>) | undefined;
      const m = memoized(async () => {
        try {
          chain ??= (await import('@aws-sdk/credential-providers')).fromNodeProviderChain({ ...(profile !== undefined && { profile }), clientConfig: this.opts.clients.sdkConfig as never });
          return (await chain()) as Creds;
        } catch (err) {
          throw new ConnectorError(
            'BASE_CREDENTIALS_MISSING',
            `no AWS credentials for the connector itself${profile ? ` (profile ${profile})` : ''}: ${(err as Error).message.slice(0, 200)}. ` +
              'ECS: set the task role. EKS: annotate the service account (IRSA) or add a Pod Identity association.',
            { cause: err },
          );
        }
      });
      src = { key, ...m };
      this.keep(src);
    }
    return src;
  }

  /**
   * Credentials of `roleArn` assumed from `via` (the base identity or another role).
   * `hop` says which role it is, so a denial names the causes that apply to it: the member
   * hop never sends an ExternalId.
   */
  assume(roleArn: string, via: CredentialSource, externalId?: string, hop: 'management' | 'member' = 'management'): CredentialSource {
    const key = `${via.key}>${roleArn}|${externalId ?? ''}`;
    let src = this.cached(key);
    if (!src) {
      const chained = via.roleArn !== undefined;
      const m = memoized(() => this.assumeOnce(roleArn, via, externalId, chained, hop));
      src = { key, roleArn, ...m };
      this.keep(src);
    }
    return src;
  }

  /** Who `source` is (sts:GetCallerIdentity). */
  async whoAmI(source: CredentialSource): Promise<{ arn: string; accountId: string }> {
    const { STSClient, GetCallerIdentityCommand } = await sdk();
    const sts = this.opts.clients.get(STSClient, { region: this.opts.region, accountId: 'self', credentials: source });
    const out = await sts.send(new GetCallerIdentityCommand({}));
    return { arn: out.Arn ?? '', accountId: out.Account ?? '' };
  }

  private async assumeOnce(roleArn: string, via: CredentialSource, externalId: string | undefined, chained: boolean, hop: 'management' | 'member'): Promise<Creds> {
    const target = parseArn(roleArn);
    const { STSClient, AssumeRoleCommand } = await sdk();
    const sts = this.opts.clients.get(STSClient, { region: this.opts.region, accountId: target?.accountId ?? 'unknown', credentials: via });
    try {
      const out = await sts.send(
        new AssumeRoleCommand({
          RoleArn: roleArn,
          RoleSessionName: roleSessionName(this.opts.connectorId),
          ...(externalId !== undefined && { ExternalId: externalId }),
          // A chained session cannot exceed one hour; a first hop asks for the same so
          // that refresh behaviour is uniform.
          DurationSeconds: CHAINED_SESSION_SECONDS,
        }),
      );
      const c = out.Credentials;
      if (!c?.AccessKeyId || !c.SecretAccessKey) throw new Error('AssumeRole returned no credentials');
      this.opts.log.debug({ roleArn, chained }, 'assumed role');
      return {
        accessKeyId: c.AccessKeyId,
        secretAccessKey: c.SecretAccessKey,
        ...(c.SessionToken !== undefined && { sessionToken: c.SessionToken }),
        ...(c.Expiration !== undefined && { expiration: c.Expiration }),
      };
    } catch (err) {
      const cause = err instanceof ConnectorError && err.cause !== undefined ? err.cause : err;
      const code = awsErrorCode(err);
      if (code === 'AccessDenied' || code === 'AccessDeniedException' || (err instanceof ConnectorError && err.code === 'AWS_ACCESS_DENIED')) {
        const caller = via.roleArn ?? 'the connector\'s own identity';
        if (hop === 'member') {
          throw new ConnectorError(
            'ASSUME_ROLE_DENIED',
            `sts:AssumeRole into the member role ${roleArn} from ${caller} was denied. This hop uses no ExternalId: ` +
              `the member role is missing in account ${target?.accountId ?? '?'} (the member-role StackSet does not reach its OU) or does not trust ${caller}.`,
            { cause },
          );
        }
        throw new ConnectorError(
          'ASSUME_ROLE_DENIED',
          `sts:AssumeRole into ${roleArn} from ${caller} was denied. Check that the role exists and its trust policy trusts ${caller}` +
            `${externalId !== undefined ? ', and that the integration\'s externalId equals the ExternalId the role requires' : '; the integration sets no externalId, and the role may require one'}.`,
          { cause },
        );
      }
      throw err;
    }
  }
}
