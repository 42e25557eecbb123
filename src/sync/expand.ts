// Effective access, expanded once, on request (sync params `expand: true`; docs/sync.md,
// "Effective access (expand)"). Derived entities are inferences from facts the sync reads
// anyway, so expanding makes no AWS call of its own:
//
// - `sso.permissionSetPolicy`: one per (permission set, AWS-managed policy ARN), from the
//   `sso.permissionSet` entity, emitted right after it by the `sso` unit;
// - `iam.groupPolicy`: one per (IAM group, managed policy ARN), from the `iam.group`
//   entity, emitted right after it by the account's `iam` unit;
// - `sso.effectiveAccess`: one per (user, account, permission set, path), where the path
//   is a direct USER assignment or a GROUP assignment of a group the user is in. Emitted
//   by the account's `sso-assignments` unit, as each assignment is read.
//
// The join needs the group → members map of the Identity Center directory (the `sso`
// unit's memberships). The runner therefore starts `sso-assignments` units only once the
// `sso` unit is over (see gate()), so an assignment is expanded the moment it is read and
// nothing else is held: the only state is the directory, ids only, O(memberships), bounded
// by the directory's size and not by accounts × entities. Each account's expansion gets a
// coverage entry of its own (source `sso-effective-access`), complete only when both its
// inputs were, so a control plane infers deletions of derived entities by the usual rule.
import type { Entity } from '../protocol/messages.js';
import { ids } from './ids.js';
import { unitKey, type SyncPlan, type SyncUnit } from './types.js';

/** The coverage `source` of an account's effective access (not a planned unit: it has no reads of its own). */
export const EFFECTIVE_ACCESS_SOURCE = 'sso-effective-access';

export type DirectoryState = { status: 'complete' } | { status: 'failed'; code: string };

export class Expansion {
  /**
   * groupId → [userId, membershipId, userId, membershipId, …]: one flat array per group (no
   * object per membership), with each user id interned so a user in several groups is one string.
   */
  private readonly members = new Map<string, string[]>();
  private readonly interned = new Map<string, string>();
  private memberships = 0;
  private state: DirectoryState | undefined;
  private resolveDirectory!: () => void;
  /** Settles once the `sso` unit is over (complete or not); never rejects. */
  readonly directory: Promise<void> = new Promise((r) => (this.resolveDirectory = r));

  /** Account names by id, extended as discovery adds accounts (plan.accounts only grows). */
  private readonly names = new Map<string, string>();

  constructor(private readonly plan: SyncPlan) {}

  /** Whether a unit must be read even when a resume cursor or a delta would skip it: the directory feeds every account's expansion. */
  mustRead(unit: SyncUnit): boolean {
    return unit.source === 'sso';
  }

  /** What a unit waits for before it starts: assignments wait for the whole directory. */
  gate(unit: SyncUnit): Promise<void> | undefined {
    return unit.source === 'sso-assignments' ? this.directory : undefined;
  }

  /** Whether the whole directory was read: only then is an account's expansion complete, and its assignments unit may be marked done in a cursor. */
  get directoryComplete(): boolean {
    return this.state?.status === 'complete';
  }

  /** The `sso` unit is over: `complete` means every membership was seen. Idempotent. */
  directoryDone(state: DirectoryState): void {
    this.state ??= state;
    this.resolveDirectory();
  }

  /** Figures for logs and the bench: memberships held and distinct users among them. */
  get held(): { memberships: number; groups: number; users: number } {
    return { memberships: this.memberships, groups: this.members.size, users: this.interned.size };
  }

  /**
   * The derived entities of one fact, in the unit that read it (most facts derive nothing).
   * A generator: a group assignment of a large group is expanded one member at a time, as
   * the batcher takes them.
   */
  *derive(e: Entity): Generator<Entity> {
    if (e.deleted) return;
    switch (e.kind) {
      case 'sso.groupMembership':
        this.addMembership(e);
        return;
      case 'sso.permissionSet':
        yield* this.permissionSetPolicies(e);
        return;
      case 'iam.group':
        yield* this.groupPolicies(e);
        return;
      case 'sso.accountAssignment':
        yield* this.effectiveAccess(e);
        return;
      default:
    }
  }

  /**
   * The coverage entry of an account's effective access, given how its `sso-assignments`
   * unit ended: complete only when the unit and the directory both were (otherwise some
   * derived entity may be missing, and absence must not read as deletion).
   */
  coverage(unit: SyncUnit, assignments: { status: 'complete' | 'failed' | 'skipped'; reason?: 'unchanged' | 'noChangeFeed' | 'regionDisabled'; code?: string }): {
    entry: { accountId: string; source: string; region: string; status: 'complete' | 'failed' | 'skipped'; reason?: 'unchanged' | 'noChangeFeed' | 'regionDisabled' };
    error?: { code: string; message: string };
  } {
    const at = { accountId: unit.accountId, source: EFFECTIVE_ACCESS_SOURCE, region: unit.region };
    if (assignments.status === 'skipped') return { entry: { ...at, status: 'skipped', ...(assignments.reason && { reason: assignments.reason }) } };
    if (assignments.status === 'failed') {
      return { entry: { ...at, status: 'failed' }, error: { code: assignments.code ?? 'AWS_ERROR', message: `not derived: the unit ${unitKey(unit)} failed` } };
    }
    if (this.state?.status !== 'complete') {
      const code = this.state?.status === 'failed' ? this.state.code : 'AWS_ERROR';
      return { entry: { ...at, status: 'failed' }, error: { code, message: 'group assignments not expanded: the Identity Center directory (sso unit) was not read completely' } };
    }
    return { entry: { ...at, status: 'complete' } };
  }

  private addMembership(e: Entity): void {
    const groupId = e.attributes['groupId'];
    const userId = e.attributes['userId'];
    const membershipId = e.attributes['membershipId'];
    if (typeof groupId !== 'string' || typeof userId !== 'string' || typeof membershipId !== 'string') return;
    let u = this.interned.get(userId);
    if (u === undefined) this.interned.set(userId, (u = userId));
    let list = this.members.get(groupId);
    if (!list) this.members.set(groupId, (list = []));
    list.push(u, membershipId);
    this.memberships++;
  }

  private permissionSetPolicies(ps: Entity): Entity[] {
    const arns = ps.attributes['managedPolicyArns'];
    // Unknown (an optional read given up): nothing is derived, and docs/sync.md tells the
    // control plane to keep what it has for this permission set.
    if (!Array.isArray(arns) || !ps.arn) return [];
    const psName = ps.name;
    return [...new Set(arns.filter((a): a is string => typeof a === 'string'))].map((policyArn) => ({
      kind: 'sso.permissionSetPolicy',
      id: ids.permissionSetPolicy(ps.arn!, policyArn),
      name: `${psName}: ${policyName(policyArn)}`,
      ...where(ps),
      parentId: ps.id,
      derived: true,
      attributes: { permissionSetArn: ps.arn, policyArn, derivedFrom: [ps.id] },
    }));
  }

  private groupPolicies(g: Entity): Entity[] {
    const arns = g.attributes['attachedManagedPolicies'];
    if (!Array.isArray(arns) || !g.arn) return [];
    return [...new Set(arns.filter((a): a is string => typeof a === 'string'))].map((policyArn) => ({
      kind: 'iam.groupPolicy',
      id: ids.groupPolicy(g.arn!, policyArn),
      name: `${g.name}: ${policyName(policyArn)}`,
      ...where(g),
      parentId: g.id,
      derived: true,
      attributes: { groupArn: g.arn, policyArn, derivedFrom: [g.id] },
    }));
  }

  private *effectiveAccess(a: Entity): Generator<Entity> {
    const { permissionSetArn: ps, permissionSetName: psName, principalType: type, principalId } = a.attributes as Record<string, unknown>;
    const accountId = a.accountId;
    if (typeof ps !== 'string' || typeof principalId !== 'string' || !accountId) return;
    for (let i = this.names.size; i < this.plan.accounts.length; i++) this.names.set(this.plan.accounts[i]!.id, this.plan.accounts[i]!.name);
    const accountName = this.names.get(accountId) ?? accountId;
    const p = this.plan.partition;
    const one = (userId: string, via: { groupId: string; membershipId: string } | undefined): Entity => ({
      kind: 'sso.effectiveAccess',
      id: ids.effectiveAccess(ps, accountId, userId, via ? { groupId: via.groupId } : 'direct'),
      name: `${typeof psName === 'string' ? psName : ps} for user ${userId} in ${accountName}${via ? ` via group ${via.groupId}` : ''}`,
      ...where(a),
      ...(a.parentId !== undefined && { parentId: a.parentId }),
      derived: true,
      attributes: {
        userId,
        userEntityId: ids.ssoUser(p, userId),
        accountId,
        permissionSetArn: ps,
        ...(typeof psName === 'string' && { permissionSetName: psName }),
        via: via ? 'group' : 'direct',
        ...(via && { groupId: via.groupId, groupEntityId: ids.ssoGroup(p, via.groupId) }),
        derivedFrom: via ? [a.id, ids.ssoGroupMembership(p, via.membershipId)] : [a.id],
      },
    });
    if (type === 'USER') yield one(principalId, undefined);
    if (type !== 'GROUP') return;
    const list = this.members.get(principalId) ?? [];
    for (let i = 0; i < list.length; i += 2) yield one(list[i]!, { groupId: principalId, membershipId: list[i + 1]! });
  }
}

function where(e: Entity): Pick<Entity, 'accountId' | 'region'> {
  return { ...(e.accountId !== undefined && { accountId: e.accountId }), ...(e.region !== undefined && { region: e.region }) };
}

/** `arn:aws:iam::aws:policy/job-function/ViewOnlyAccess` → `ViewOnlyAccess`. */
function policyName(arn: string): string {
  return arn.slice(arn.lastIndexOf('/') + 1) || arn;
}
