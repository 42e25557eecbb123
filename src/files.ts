// Problems in a file an operator wrote (the policy file, an integration or params file),
// reported all at once, each with its line and column, and never cut: fixing one problem
// per start-up is a slow way to learn about ten.
import { createRequire } from 'node:module';
import type { Document, LineCounter } from 'yaml';
import type { z } from 'zod';

// The YAML parser loads with the first file it reads, not with the daemon: most daemons
// read no operator file at all (no policy file, no CLI command). Synchronous, because
// configuration is read synchronously at start-up.
let yamlModule: typeof import('yaml') | undefined;
const yaml = (): typeof import('yaml') => (yamlModule ??= createRequire(import.meta.url)('yaml') as typeof import('yaml'));

/** Parses JSON or YAML (YAML is a superset of JSON); on syntax errors, lists every one. */
export function parseJsonOrYaml(text: string): { doc: unknown } | { problems: string[] } {
  const lc = new (yaml().LineCounter)();
  const d = yaml().parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  if (d.errors.length > 0) {
    return { problems: d.errors.map((e) => `${at(lc, e.pos[0])}${e.message}`) };
  }
  return { doc: d.toJS({ maxAliasCount: 100 }) as unknown };
}

/** Parses JSON; a syntax error keeps the parser's whole message (Node names line and column). */
export function parseJson(text: string): { doc: unknown } | { problems: string[] } {
  try {
    return { doc: JSON.parse(text) as unknown };
  } catch (err) {
    return { problems: [(err as Error).message] };
  }
}

/** Every schema issue, each prefixed with the line and column of the value (or key) it is about. */
export function locateIssues(text: string, issues: readonly z.core.$ZodIssue[]): string[] {
  const lc = new (yaml().LineCounter)();
  const d = yaml().parseDocument(text, { lineCounter: lc, prettyErrors: false });
  return issues.flatMap((i) => {
    const where = i.path.map(String).join('.') || '(top level)';
    // One line per unknown key, at the key itself.
    if (i.code === 'unrecognized_keys') {
      return i.keys.map((k) => `${at(lc, keyOffset(d, i.path, k) ?? offsetOf(d, i.path))}${where}: Unrecognized key: "${k}"`);
    }
    return [`${at(lc, offsetOf(d, i.path))}${where}: ${i.message}`];
  });
}

type IssuePath = readonly PropertyKey[];

function offsetOf(d: Document, issuePath: IssuePath): number | undefined {
  let path = issuePath.map((p) => (typeof p === 'symbol' ? String(p) : p));
  for (;;) {
    const node = path.length === 0 ? d.contents : d.getIn(path, true);
    if (yaml().isNode(node) && node.range) return node.range[0];
    if (path.length === 0) return undefined;
    path = path.slice(0, -1);
  }
}

function keyOffset(d: Document, issuePath: IssuePath, key: string): number | undefined {
  const path = issuePath.map((p) => (typeof p === 'symbol' ? String(p) : p));
  const node = path.length === 0 ? d.contents : d.getIn(path, true);
  if (!yaml().isMap(node)) return undefined;
  const pair = node.items.find((p) => yaml().isScalar(p.key) && String(p.key.value) === key);
  return pair && yaml().isNode(pair.key) && pair.key.range ? pair.key.range[0] : undefined;
}

function at(lc: LineCounter, offset: number | undefined): string {
  if (offset === undefined) return '';
  const { line, col } = lc.linePos(offset);
  return `line ${line}, column ${col}: `;
}

/** One message for all the problems of a file: `FILE: N problems:` then one per line. */
export function fileProblems(file: string, problems: string[]): string {
  return problems.length === 1 ? `${file}: ${problems[0]}` : `${file}: ${problems.length} problems:\n  ${problems.join('\n  ')}`;
}
