// Compares what a sync sent with the simulator's ground truth without holding either as
// strings: at 10,000 accounts both are about 3 million `kind id` refs, and keeping them as
// Sets of strings (the bench did) took several GB on top of the simulator's world. Each ref
// becomes one 64-bit digest (SHA-1's first 56 bits, the kind's index in the low byte) in a
// typed array, 8 bytes a ref; the comparison is a merge of the two sorted arrays.
//
// A digest collision (two distinct refs, 56 equal bits) would hide one ref; with 3 million
// refs its odds are about 6 in 100,000, which a benchmark can live with.
import { hash } from 'node:crypto';

export interface TallyResult {
  received: number;
  missing: number;
  extra: number;
  /** Distinct refs received more than once. */
  duplicated: number;
  missingByKind: Record<string, number>;
  extraByKind: Record<string, number>;
  extraSample: string[];
}

class Digests {
  values = new BigUint64Array(1024);
  length = 0;
  push(v: bigint): void {
    if (this.length === this.values.length) {
      const grown = new BigUint64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.length++] = v;
  }
  sorted(): BigUint64Array {
    return this.values.subarray(0, this.length).sort();
  }
}

export class RefTally {
  private readonly kinds: string[] = [];
  private readonly kindIndex = new Map<string, number>();
  private expected: BigUint64Array = new BigUint64Array(0);
  private readonly got = new Digests();
  /** Kind of each digest received that is not expected (few, unless the sync is wrong). */
  private readonly unexpected = new Map<bigint, string>();
  private readonly extraSample: string[] = [];

  private digest(kind: string, id: string): bigint {
    let k = this.kindIndex.get(kind);
    if (k === undefined) {
      k = this.kinds.push(kind) - 1;
      if (k > 255) throw new Error('more than 256 entity kinds');
      this.kindIndex.set(kind, k);
    }
    const d = hash('sha1', `${kind} ${id}`, 'buffer').readBigUInt64BE(0);
    return (d & ~0xffn) | BigInt(k);
  }

  /** The refs the sync must send (each once). */
  expect(refs: Iterable<{ kind: string; id: string }>): void {
    const d = new Digests();
    for (const r of refs) d.push(this.digest(r.kind, r.id));
    this.expected = d.values.slice(0, d.length).sort();
  }

  private isExpected(v: bigint): boolean {
    return includes(this.expected, v);
  }

  /** The first `n` of `refs` not received (call result() first: it sorts what was received). */
  notReceived(refs: Iterable<{ kind: string; id: string }>, n = 3): string[] {
    const got = this.got.values.subarray(0, this.got.length);
    const out: string[] = [];
    for (const r of refs) {
      if (out.length >= n) break;
      if (!includes(got, this.digest(r.kind, r.id))) out.push(`${r.kind} ${r.id}`);
    }
    return out;
  }


  /** One entity as received (call expect() first). */
  add(kind: string, id: string): void {
    const v = this.digest(kind, id);
    this.got.push(v);
    if (!this.isExpected(v) && !this.unexpected.has(v)) {
      if (this.unexpected.size < 100_000) this.unexpected.set(v, kind);
      if (this.extraSample.length < 3) this.extraSample.push(`${kind} ${id}`);
    }
  }

  result(): TallyResult {
    const got = this.got.sorted();
    const exp = this.expected;
    const out: TallyResult = { received: got.length, missing: 0, extra: 0, duplicated: 0, missingByKind: {}, extraByKind: {}, extraSample: this.extraSample };
    const kindOf = (v: bigint) => this.kinds[Number(v & 0xffn)]!;
    let i = 0;
    let j = 0;
    while (i < got.length || j < exp.length) {
      const g = i < got.length ? got[i]! : undefined;
      const e = j < exp.length ? exp[j]! : undefined;
      if (g !== undefined && (e === undefined || g < e)) {
        out.extra++;
        const k = this.unexpected.get(g) ?? kindOf(g);
        out.extraByKind[k] = (out.extraByKind[k] ?? 0) + 1;
      } else if (e !== undefined && (g === undefined || e < g)) {
        out.missing++;
        out.missingByKind[kindOf(e)] = (out.missingByKind[kindOf(e)] ?? 0) + 1;
        j++;
        continue;
      } else j++;
      // g was received: count it once, and once more as duplicated if it came again.
      let n = 1;
      while (i + n < got.length && got[i + n] === g) n++;
      if (n > 1) out.duplicated++;
      i += n;
    }
    return out;
  }
}

/** Binary search in a sorted array. */
function includes(sorted: BigUint64Array, v: bigint): boolean {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const m = sorted[mid]!;
    if (m === v) return true;
    if (m < v) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}
