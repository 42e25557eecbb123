// Summarizes a V8 heap snapshot (.heapsnapshot, as written by bench/sync.ts --heap-snapshot-at):
// what is live by constructor (count, self and retained size), the largest strings and the
// parents sliced strings keep alive, the most numerous closures, and the connector's own
// classes (every `class` declared under src/) with their live counts and retained sizes.
//
//   node dist/bench/heap-summary.js FILE.heapsnapshot [--top 15]
//
// Retained sizes come from the dominator tree (weak edges do not retain), computed as
// Cooper, Harvey and Kennedy's iterative algorithm over a depth-first post-order. A
// constructor's retained size counts only its instances that no other instance of it
// dominates, as the browsers' heap profilers do.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]]; edge_fields: string[]; edge_types: [string[], ...unknown[]] }; node_count: number };
  nodes: number[];
  edges: number[];
  strings: string[];
}

const file = process.argv[2];
if (!file) {
  console.error('usage: node dist/bench/heap-summary.js FILE.heapsnapshot [--top N]');
  process.exit(2);
}
const topIdx = process.argv.indexOf('--top');
const TOP = topIdx >= 0 ? Number(process.argv[topIdx + 1]) : 15;

const snap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
const meta = snap.snapshot.meta;
const NF = meta.node_fields.length;
const EF = meta.edge_fields.length;
const nType = meta.node_fields.indexOf('type');
const nName = meta.node_fields.indexOf('name');
const nSelf = meta.node_fields.indexOf('self_size');
const nEdges = meta.node_fields.indexOf('edge_count');
const eType = meta.edge_fields.indexOf('type');
const eName = meta.edge_fields.indexOf('name_or_index');
const eTo = meta.edge_fields.indexOf('to_node');
const nodeTypes = meta.node_types[0];
const edgeTypes = meta.edge_types[0];
const WEAK = edgeTypes.indexOf('weak');
const SHORTCUT = edgeTypes.indexOf('shortcut');
const T = (name: string) => nodeTypes.indexOf(name);
const OBJECT = T('object');
const CLOSURE = T('closure');
const STRING = T('string');
const CONS = T('concatenated string');
const SLICED = T('sliced string');
const NATIVE = T('native');
const { nodes, edges, strings } = snap;
const N = nodes.length / NF;

const firstEdge = new Uint32Array(N + 1);
for (let i = 0, e = 0; i < N; i++) {
  firstEdge[i] = e;
  e += nodes[i * NF + nEdges]! * EF;
}
firstEdge[N] = edges.length;
const typeOf = (i: number) => nodes[i * NF + nType]!;
const selfOf = (i: number) => nodes[i * NF + nSelf]!;
const nameOf = (i: number) => strings[nodes[i * NF + nName]!]!;
/** What a node counts under: its constructor for objects, its type otherwise. */
function classOf(i: number): string {
  const t = typeOf(i);
  if (t === OBJECT || t === NATIVE) return nameOf(i);
  if (t === CLOSURE) return '(closure)';
  if (t === STRING || t === CONS || t === SLICED) return '(string)';
  return `(${nodeTypes[t]})`;
}
const retaining = (e: number) => {
  const t = edges[e + eType]!;
  return t !== WEAK && t !== SHORTCUT;
};

// Depth-first post-order from the root (node 0) over retaining edges.
const post = new Int32Array(N).fill(-1);
const order: number[] = [];
{
  const stack = new Int32Array(N);
  const cursor = new Uint32Array(N);
  const seen = new Uint8Array(N);
  let sp = 0;
  stack[sp++] = 0;
  seen[0] = 1;
  cursor[0] = firstEdge[0]!;
  while (sp > 0) {
    const n = stack[sp - 1]!;
    let pushed = false;
    while (cursor[n]! < firstEdge[n + 1]!) {
      const e = cursor[n]!;
      cursor[n] = e + EF;
      if (!retaining(e)) continue;
      const to = edges[e + eTo]! / NF;
      if (seen[to]) continue;
      seen[to] = 1;
      cursor[to] = firstEdge[to]!;
      stack[sp++] = to;
      pushed = true;
      break;
    }
    if (!pushed) {
      sp--;
      post[n] = order.length;
      order.push(n);
    }
  }
}
const reachable = order.length;

// Predecessors over retaining edges, in CSR form.
const predCount = new Uint32Array(N + 1);
for (let i = 0; i < N; i++) {
  if (post[i] === -1) continue;
  for (let e = firstEdge[i]!; e < firstEdge[i + 1]!; e += EF) if (retaining(e)) predCount[edges[e + eTo]! / NF]!++;
}
const predStart = new Uint32Array(N + 1);
for (let i = 0; i < N; i++) predStart[i + 1] = predStart[i]! + predCount[i]!;
const preds = new Int32Array(predStart[N]!);
{
  const fill = predStart.slice(0, N);
  for (let i = 0; i < N; i++) {
    if (post[i] === -1) continue;
    for (let e = firstEdge[i]!; e < firstEdge[i + 1]!; e += EF) if (retaining(e)) {
      const to = edges[e + eTo]! / NF;
      preds[fill[to]!++] = i;
    }
  }
}

// Immediate dominators (by post-order number; the root has the highest).
const idom = new Int32Array(reachable).fill(-1);
const rootPo = reachable - 1;
idom[rootPo] = rootPo;
for (let changed = true; changed; ) {
  changed = false;
  for (let po = rootPo - 1; po >= 0; po--) {
    const n = order[po]!;
    let best = -1;
    for (let k = predStart[n]!; k < predStart[n + 1]!; k++) {
      let p = post[preds[k]!]!;
      if (p === -1 || idom[p] === -1) continue;
      if (best === -1) {
        best = p;
        continue;
      }
      let q = best;
      while (p !== q) {
        while (p < q) p = idom[p]!;
        while (q < p) q = idom[q]!;
      }
      best = p;
    }
    if (best !== -1 && idom[po] !== best) {
      idom[po] = best;
      changed = true;
    }
  }
}

// Retained sizes: children before their dominators in post-order.
const retained = new Float64Array(reachable);
for (let po = 0; po < reachable; po++) retained[po] = selfOf(order[po]!);
for (let po = 0; po < rootPo; po++) if (idom[po]! !== -1) retained[idom[po]!] = retained[idom[po]!]! + retained[po]!;

// Constructor retained sizes: instances under no other instance of the same constructor.
const children = new Uint32Array(reachable + 1);
for (let po = 0; po < rootPo; po++) children[idom[po]!]!++;
const childStart = new Uint32Array(reachable + 1);
for (let po = 0; po < reachable; po++) childStart[po + 1] = childStart[po]! + children[po]!;
const childList = new Int32Array(childStart[reachable]!);
{
  const fill = childStart.slice(0, reachable);
  for (let po = 0; po < rootPo; po++) childList[fill[idom[po]!]!++] = po;
}

interface Row {
  count: number;
  self: number;
  retained: number;
}
const byClass = new Map<string, Row>();
{
  const active = new Map<string, number>();
  const stack: Array<[number, boolean]> = [[rootPo, false]];
  while (stack.length > 0) {
    const [po, leaving] = stack.pop()!;
    const n = order[po]!;
    const c = classOf(n);
    if (leaving) {
      active.set(c, active.get(c)! - 1);
      continue;
    }
    let row = byClass.get(c);
    if (!row) byClass.set(c, (row = { count: 0, self: 0, retained: 0 }));
    row.count++;
    row.self += selfOf(n);
    if (!active.get(c)) row.retained += retained[po]!;
    active.set(c, (active.get(c) ?? 0) + 1);
    stack.push([po, true]);
    for (let k = childStart[po]!; k < childStart[po + 1]!; k++) stack.push([childList[k]!, false]);
  }
}

const MB = (b: number) => (b / 2 ** 20).toFixed(2).padStart(8);
const line = (name: string, r: Row) => `${MB(r.self)} ${MB(r.retained)} ${String(r.count).padStart(9)}  ${name.slice(0, 100)}`;
const header = '  self MB  retd MB     count  name';

let total = 0;
for (let po = 0; po < reachable; po++) total += selfOf(order[po]!);
console.log(`${file}: ${N} nodes, ${reachable} reachable, ${MB(total).trim()} MB live`);

console.log(`\nTop ${TOP} constructors by self size:\n${header}`);
for (const [name, r] of [...byClass].sort((a, b) => b[1].self - a[1].self).slice(0, TOP)) console.log(line(name, r));

console.log(`\nTop ${TOP} constructors by retained size (without the roots' internals):\n${header}`);
for (const [name, r] of [...byClass].filter(([n]) => !n.startsWith('(') && n !== '').sort((a, b) => b[1].retained - a[1].retained).slice(0, TOP)) console.log(line(name, r));

// Strings: largest values, grouped by their first 60 characters; sliced strings' parents.
const stringGroups = new Map<string, Row>();
const slicedParents = new Map<number, number>();
for (let po = 0; po < reachable; po++) {
  const n = order[po]!;
  const t = typeOf(n);
  if (t !== STRING && t !== CONS && t !== SLICED) continue;
  const key = `${nodeTypes[t]}: ${JSON.stringify(nameOf(n).slice(0, 60))}`;
  let row = stringGroups.get(key);
  if (!row) stringGroups.set(key, (row = { count: 0, self: 0, retained: 0 }));
  row.count++;
  row.self += selfOf(n);
  row.retained += retained[po]!;
  if (t === SLICED) {
    for (let e = firstEdge[n]!; e < firstEdge[n + 1]!; e += EF) {
      if (strings[edges[e + eName]!] === 'parent') {
        const parent = edges[e + eTo]! / NF;
        slicedParents.set(parent, (slicedParents.get(parent) ?? 0) + 1);
      }
    }
  }
}
console.log(`\nTop ${TOP} strings by self size (grouped by first 60 chars):\n${header}`);
for (const [name, r] of [...stringGroups].sort((a, b) => b[1].self - a[1].self).slice(0, TOP)) console.log(line(name, r));
let parentBytes = 0;
for (const p of slicedParents.keys()) parentBytes += selfOf(p);
console.log(`\nSliced strings: ${[...slicedParents.values()].reduce((a, b) => a + b, 0)}, keeping ${slicedParents.size} parents alive (${MB(parentBytes).trim()} MB); largest parents:`);
for (const [p, count] of [...slicedParents].sort((a, b) => selfOf(b[0]) - selfOf(a[0])).slice(0, 5)) {
  console.log(`${MB(selfOf(p))}  ${String(count).padStart(6)} slices  ${nodeTypes[typeOf(p)]}: ${JSON.stringify(nameOf(p).slice(0, 80))}`);
}

// Closures by function name.
const closures = new Map<string, Row>();
for (let po = 0; po < reachable; po++) {
  const n = order[po]!;
  if (typeOf(n) !== CLOSURE) continue;
  const key = nameOf(n) || '(anonymous)';
  let row = closures.get(key);
  if (!row) closures.set(key, (row = { count: 0, self: 0, retained: 0 }));
  row.count++;
  row.self += selfOf(n);
  row.retained += retained[po]!;
}
console.log(`\nTop ${TOP} closures by count (retained summed per instance):\n${header}`);
for (const [name, r] of [...closures].sort((a, b) => b[1].count - a[1].count).slice(0, TOP)) console.log(line(name, r));

// The connector's own classes.
const repo = resolve(fileURLToPath(import.meta.url), '../../..');
const ours = new Set<string>();
const walk = (dir: string) => {
  for (const f of readdirSync(dir)) {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) walk(p);
    else if (p.endsWith('.ts')) for (const m of readFileSync(p, 'utf8').matchAll(/\bclass\s+(\w+)/g)) ours.add(m[1]!);
  }
};
walk(join(repo, 'src'));
console.log(`\nOur classes (src/) live:\n${header}`);
for (const [name, r] of [...byClass].filter(([n]) => ours.has(n)).sort((a, b) => b[1].retained - a[1].retained)) console.log(line(name, r));

// The largest single holders: nodes by retained size, each with its dominator chain (how the
// root reaches it, by class and edge name), to tell which part of the process keeps what.
const edgeName = (from: number, to: number): string => {
  for (let e = firstEdge[from]!; e < firstEdge[from + 1]!; e += EF) {
    if (edges[e + eTo]! / NF !== to) continue;
    const t = edgeTypes[edges[e + eType]!];
    return t === 'element' || t === 'hidden' ? `[${edges[e + eName]}]` : String(strings[edges[e + eName]!]);
  }
  return '?';
};
const describe = (n: number) => {
  const c = classOf(n);
  return c === '(closure)' ? `${nameOf(n) || '(anonymous)'}()` : c === '(string)' ? `"${nameOf(n).slice(0, 30)}"` : c;
};
console.log(`\nLargest holders (retained ≥ 0.25 MB, not dominated by a larger one listed), with their dominator chain:`);
{
  const big = [];
  for (let po = 0; po < rootPo; po++) if (retained[po]! >= 0.25 * 2 ** 20) big.push(po);
  big.sort((a, b) => retained[b]! - retained[a]!);
  let shown = 0;
  for (const po of big) {
    if (shown >= TOP * 2) break;
    // Leaves only: a holder with a listed holder under it that keeps most of it says less.
    const inner = big.some((q) => q !== po && retained[q]! >= retained[po]! * 0.8 && (() => {
      for (let x = q; x !== rootPo; x = idom[x]!) if (idom[x] === po) return true;
      return false;
    })());
    if (inner) continue;
    const chain: string[] = [];
    for (let x = po; x !== rootPo && chain.length < 8; x = idom[x]!) chain.push(`${edgeName(order[idom[x]!]!, order[x]!)}→${describe(order[x]!)}`);
    console.log(`${MB(retained[po]!)}  ${chain.reverse().join(' ')}`);
    shown++;
  }
}
