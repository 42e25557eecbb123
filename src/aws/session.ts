// What a job needs to reach AWS for one integration: the management identity, the member
// identity of each account, and clients scoped to either. One per job; the broker and
// the client factory underneath are shared by the whole process.
import type { Integration } from '../protocol/messages.js';
import type { AwsClients } from './clients.js';
import { CredentialBroker, parseArn, roleArnIn } from './credentials.js';
import type { CredentialSource } from './clients.js';

export class IntegrationSession {
  private identity: Promise<{ arn: string; accountId: string; partition: string }> | undefined;

  constructor(
    readonly integration: Integration,
    readonly clients: AwsClients,
    readonly broker: CredentialBroker,
  ) {}

  /** The management (or single-account) identity: the role, or the connector's own. */
  management(): CredentialSource {
    const base = this.broker.base(this.integration.profile);
    return this.integration.roleArn ? this.broker.assume(this.integration.roleArn, base, this.integration.externalId) : base;
  }

  /** Account and partition of the management identity (from its ARN, or GetCallerIdentity). */
  async managementIdentity(): Promise<{ arn: string; accountId: string; partition: string }> {
    const fromArn = this.integration.roleArn ? parseArn(this.integration.roleArn) : undefined;
    if (fromArn) return { arn: this.integration.roleArn!, accountId: fromArn.accountId, partition: fromArn.partition };
    this.identity ??= this.broker.whoAmI(this.management()).then((id) => ({ ...id, partition: parseArn(id.arn)?.partition ?? 'aws' }));
    return this.identity;
  }

  /** Credentials to act inside `accountId`: the member role, or the management identity for its own account in aws-account mode. */
  async member(accountId: string): Promise<CredentialSource> {
    const mgmt = await this.managementIdentity();
    if (this.integration.type === 'aws-account' || accountId === mgmt.accountId && !this.integration.roleArn) return this.management();
    return this.broker.assume(roleArnIn(mgmt.partition, accountId, this.integration.memberRoleName), this.management(), undefined, 'member');
  }

  /** A client acting as the management identity. */
  async managementClient<C extends object>(Ctor: new (config: Record<string, unknown>) => C, region?: string): Promise<C> {
    const mgmt = await this.managementIdentity();
    return this.clients.get(Ctor, { region: region ?? this.integration.region, accountId: mgmt.accountId, credentials: this.management() });
  }

  /** A client acting in `accountId` through its member role. */
  async memberClient<C extends object>(Ctor: new (config: Record<string, unknown>) => C, accountId: string, region?: string): Promise<C> {
    return this.clients.get(Ctor, { region: region ?? this.integration.region, accountId, credentials: await this.member(accountId) });
  }
}
