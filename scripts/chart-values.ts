// The values table of helm/access-connector/README.md, generated from the chart's
// values.yaml (keys, defaults and the comments above them) and values.schema.json (types),
// so the README cannot drift from what `helm install` accepts. scripts/docs.ts writes it.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { isMap, isScalar, isSeq, parseDocument, type Node, type Pair } from 'yaml';
import { REPO_ROOT } from '../test/helpers/paths.js';

const CHART = 'helm/access-connector';

interface SchemaNode {
  type?: string | string[];
  enum?: unknown[];
  anyOf?: SchemaNode[];
  properties?: Record<string, SchemaNode>;
  description?: string;
}

function typeOf(s: SchemaNode | undefined): string {
  if (!s) return '';
  if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(' \\| ');
  if (s.type) return Array.isArray(s.type) ? s.type.join(' \\| ') : s.type;
  if (s.anyOf) return [...new Set(s.anyOf.map(typeOf).filter(Boolean))].join(' \\| ');
  return '';
}

/** The comment above a key, without the `# --` marker helm-docs readers know. */
function describe(pair: Pair, mapComment?: string): string {
  const key = pair.key as Node | null;
  // The comment above a map's first key belongs to the map node in the YAML tree.
  const text = (key && 'commentBefore' in key ? (key.commentBefore as string | undefined) : undefined) ?? mapComment ?? '';
  // Only the last comment block belongs to the key (a blank line separates earlier ones).
  const block = text.split(/\n\s*\n/).pop() ?? '';
  return block
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => !/^- (name|namespaceSelector|matchLabels|kubernetes\.io)/.test(l) && !/^ {2}/.test(l))
    .join(' ')
    .replace(/^--\s*/, '')
    .replace(/\s+/g, ' ')
    .trim();
}

function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function defaultOf(node: unknown): string {
  const v = isScalar(node) ? node.value : (node as { toJSON(): unknown }).toJSON();
  if (v === '' || v === null) return v === '' ? '`""`' : '`null`';
  return `\`${cell(JSON.stringify(v))}\``;
}

export function chartValuesTable(): string {
  const doc = parseDocument(readFileSync(resolve(REPO_ROOT, CHART, 'values.yaml'), 'utf8'));
  const schema = JSON.parse(readFileSync(resolve(REPO_ROOT, CHART, 'values.schema.json'), 'utf8')) as SchemaNode;
  const rows: string[] = [];
  const walk = (map: unknown, path: string[], schemaNode: SchemaNode | undefined, inherited: string): void => {
    if (!isMap(map)) return;
    for (const [i, pair] of map.items.entries()) {
      const key = String(isScalar(pair.key) ? pair.key.value : pair.key);
      const sub = schemaNode?.properties?.[key];
      const desc = describe(pair, i === 0 ? map.commentBefore ?? undefined : undefined) || sub?.description || '';
      const value = pair.value;
      // A map with keys of its own is a section: its keys get the rows.
      if (isMap(value) && value.items.length > 0 && !(sub && !sub.properties)) {
        walk(value, [...path, key], sub, desc);
        continue;
      }
      const type = typeOf(sub) || (isSeq(value) ? 'array' : isMap(value) ? 'object' : typeof (isScalar(value) ? value.value : ''));
      rows.push(`| \`${[...path, key].join('.')}\` | ${type} | ${defaultOf(value)} | ${cell(desc || inherited)} |`);
    }
  };
  walk(doc.contents, [], schema, '');
  return ['| Key | Type | Default | Description |', '|---|---|---|---|', ...rows].join('\n');
}
