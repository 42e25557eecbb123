// How a control plane applies syncs to its view of an estate (docs/protocol.md, "Entities
// and coverage"), for the bench and the tests that check a delta against the ground truth:
//
// - a full sync replaces the view;
// - a delta: every unit reported `complete` replaces what the view held for that unit (so
//   deletions inside it are inferred); units `skipped` (unchanged, noChangeFeed, …),
//   `failed` or not listed keep what the view holds; entities sent are upserted, and those
//   with `deleted: true` are removed.
//
// Entities carry no unit, so the control plane maps each kind to the source that reads it
// and its account (and region for ec2), as below.
interface Entity {
  kind: string;
  id: string;
  accountId?: string;
  region?: string;
  deleted?: boolean;
}
interface Coverage {
  accountId: string;
  source: string;
  region: string;
  status: string;
}

/** The unit an entity belongs to: source, account, and region where the source has several per account. */
export function unitOf(e: Entity): string {
  if (e.kind.startsWith('aws.')) return 'organization';
  if (e.kind === 'sso.accountAssignment') return `sso-assignments|${e.accountId}`;
  if (e.kind.startsWith('sso.')) return 'sso';
  if (e.kind.startsWith('iam.')) return `iam|${e.accountId}`;
  if (e.kind === 'ec2.managedInstance') return `ec2|${e.accountId}|${e.region}`;
  return 'resources';
}

function coverageUnit(c: Coverage): string {
  if (c.source === 'organization' || c.source === 'sso' || c.source === 'resources') return c.source;
  if (c.source === 'ec2') return `ec2|${c.accountId}|${c.region}`;
  return `${c.source}|${c.accountId}`;
}

export class Inventory {
  /** `kind id` → the unit it belongs to. */
  readonly entities = new Map<string, string>();

  applyFull(entities: Iterable<Entity>): void {
    this.entities.clear();
    for (const e of entities) if (!e.deleted) this.entities.set(`${e.kind} ${e.id}`, unitOf(e));
  }

  applyDelta(entities: Iterable<Entity>, coverage: readonly Coverage[]): void {
    const replaced = new Set(coverage.filter((c) => c.status === 'complete').map(coverageUnit));
    for (const [ref, unit] of this.entities) if (replaced.has(unit)) this.entities.delete(ref);
    for (const e of entities) {
      const ref = `${e.kind} ${e.id}`;
      if (e.deleted) this.entities.delete(ref);
      else this.entities.set(ref, unitOf(e));
    }
  }

  /** Against the ground truth's `kind id` refs: what the view lacks and what it holds in excess. */
  compare(truth: Iterable<string>): { missing: string[]; extra: string[] } {
    const expected = new Set(truth);
    return { missing: [...expected].filter((r) => !this.entities.has(r)), extra: [...this.entities.keys()].filter((r) => !expected.has(r)) };
  }
}
