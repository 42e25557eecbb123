// The sync's per-unit bookkeeping in a few bytes a unit. A sync plans accounts × sources ×
// regions units and keeps them, and which of them completed, until its result: an
// organization of 10,000 accounts has hundreds of thousands. As an object per unit (and a
// Set of completed positions) that was about 120 bytes a unit held for the whole sync,
// what made a connector's heap grow with the organization's size.
import type { EntitySource, SourceName, SyncUnit } from './types.js';

/**
 * The plan's units by position: for each, the indexes of its entity source, its account id
 * and its region in small tables of distinct values (7 bytes a unit). A unit's object is
 * made again only when something asks for it (when it runs, for the fingerprint, for
 * coverage), equal field by field to the one its source planned.
 */
export class UnitTable {
  private sourceIdx = new Uint8Array(1024);
  private nameIdx = new Uint8Array(1024);
  private regionIdx = new Uint16Array(1024);
  private accountIdx = new Int32Array(1024);
  private readonly sources: EntitySource[] = [];
  private readonly names: SourceName[] = [];
  private readonly regions: string[] = [];
  /**
   * Account ids, each once per run of consecutive units: a source plans an account's units
   * together, so comparing with the last one keeps this to about one entry per account
   * without a map from id to index (the management account's few global units may add a
   * repeat, which costs a slot and changes nothing).
   */
  private readonly accounts: string[] = [];
  length = 0;

  /** Appends a unit; returns its position. */
  push(unit: SyncUnit, source: EntitySource): number {
    const pos = this.length;
    if (pos === this.sourceIdx.length) this.grow();
    this.sourceIdx[pos] = indexIn(this.sources, source, 0xff);
    this.nameIdx[pos] = indexIn(this.names, unit.source, 0xff);
    this.regionIdx[pos] = indexIn(this.regions, unit.region, 0xffff);
    if (this.accounts[this.accounts.length - 1] !== unit.accountId) this.accounts.push(unit.accountId);
    this.accountIdx[pos] = this.accounts.length - 1;
    this.length = pos + 1;
    return pos;
  }

  unit(pos: number): SyncUnit {
    if (pos >= this.length) throw new RangeError(`no unit at position ${pos}`);
    return { source: this.names[this.nameIdx[pos]!]!, accountId: this.accounts[this.accountIdx[pos]!]!, region: this.regions[this.regionIdx[pos]!]! };
  }

  source(pos: number): EntitySource {
    if (pos >= this.length) throw new RangeError(`no unit at position ${pos}`);
    return this.sources[this.sourceIdx[pos]!]!;
  }

  /** Every unit in position order (one object at a time). */
  *units(): Generator<SyncUnit> {
    for (let pos = 0; pos < this.length; pos++) yield this.unit(pos);
  }

  /** Doubles the capacity (an array's own growth, without an object per element). */
  private grow(): void {
    const n = this.sourceIdx.length * 2;
    const widen = <T extends Uint8Array | Uint16Array | Int32Array>(a: T, make: (n: number) => T): T => {
      const b = make(n);
      b.set(a);
      return b;
    };
    this.sourceIdx = widen(this.sourceIdx, (k) => new Uint8Array(k));
    this.nameIdx = widen(this.nameIdx, (k) => new Uint8Array(k));
    this.regionIdx = widen(this.regionIdx, (k) => new Uint16Array(k));
    this.accountIdx = widen(this.accountIdx, (k) => new Int32Array(k));
  }
}

/** The index of `v` in a small table of distinct values, appended when new. */
function indexIn<T>(table: T[], v: T, max: number): number {
  let i = table.indexOf(v);
  if (i < 0) {
    if (table.length > max) throw new Error(`a sync plan has more than ${max + 1} distinct unit sources or regions`);
    i = table.push(v) - 1;
  }
  return i;
}

/**
 * A set of unit positions as one bit each (a Set of numbers costs about 20 bytes an
 * entry). Iterates in ascending order.
 */
export class PositionSet implements Iterable<number> {
  private words = new Uint32Array(64);
  size = 0;

  add(pos: number): this {
    const w = pos >>> 5;
    if (w >= this.words.length) {
      const bigger = new Uint32Array(Math.max(this.words.length * 2, w + 1));
      bigger.set(this.words);
      this.words = bigger;
    }
    const bit = 1 << (pos & 31);
    if ((this.words[w]! & bit) === 0) {
      this.words[w] = this.words[w]! | bit;
      this.size++;
    }
    return this;
  }

  has(pos: number): boolean {
    const w = pos >>> 5;
    return w < this.words.length && (this.words[w]! & (1 << (pos & 31))) !== 0;
  }

  *[Symbol.iterator](): Generator<number> {
    for (let w = 0; w < this.words.length; w++) {
      let bits = this.words[w]!;
      while (bits !== 0) {
        const low = bits & -bits;
        yield w * 32 + (31 - Math.clz32(low));
        bits ^= low;
      }
    }
  }
}
