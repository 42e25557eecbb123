// Keeps the generated parts of docs/ in step with the code they describe:
//   node dist/scripts/docs.js --check   (CI: fails when a table is stale)
//   node dist/scripts/docs.js --write   (regenerates them)
// Generated parts sit between `<!-- BEGIN GENERATED: name -->` and `<!-- END GENERATED: name -->`;
// docs/protocol/ holds only generated files (the JSON Schemas, scripts/protocol-schemas.ts).
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { SETTINGS } from '../src/config.js';
import { ERROR_CODES } from '../src/errors.js';
import { EXIT_CODES } from '../src/exit-codes.js';
import { Metrics, PROCESS_METRICS_PREFIX } from '../src/daemon/metrics.js';
import { PROCESS_METRICS } from '../src/daemon/prometheus.js';
import { SCOPES, UNGRANTED_ACTIONS, allNeeds, declaredActions, type Feature } from '../src/permissions.js';

import { REPO_ROOT } from '../test/helpers/paths.js';
import { protocolSchemas, renderSchema } from './protocol-schemas.js';
import { chartValuesTable } from './chart-values.js';

function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function settingsTable(): string {
  const groups = [...new Set(SETTINGS.map((s) => s.group))];
  return groups
    .map((g) => {
      const rows = SETTINGS.filter((s) => s.group === g).map(
        (s) =>
          `| \`${s.name}\` | ${s.required ?? 'no'} | ${s.default !== undefined ? `\`${s.default}\`` : '—'} | ${s.secret ? 'yes' : ''} | ${cell(s.description)} |`,
      );
      return [`### ${g}`, '', '| Variable | Required | Default | Secret | Meaning |', '|---|---|---|---|---|', ...rows].join('\n');
    })
    .join('\n\n');
}

function errorTable(): string {
  const rows = Object.entries(ERROR_CODES).map(
    ([code, info]) => `| \`${code}\` | ${info.retryable ? 'yes' : 'no'} | ${cell(info.meaning)} | ${cell(info.fix)} |`,
  );
  return ['| Code | Retryable | What happened | What to do |', '|---|---|---|---|', ...rows].join('\n');
}

function exitCodeTable(): string {
  const rows = Object.values(EXIT_CODES).map((e) => `| ${e.code} | ${cell(e.meaning)} |`);
  return ['| Exit code | Meaning |', '|---|---|', ...rows].join('\n');
}

/** Every metric the connector declares (not the Node process metrics): one row each. */
function metricsTable(): string {
  const m = new Metrics();
  const declared = Object.values(m).filter((v): v is { name: string; help: string; labelNames: readonly string[]; constructor: { name: string } } =>
    typeof v === 'object' && v !== null && typeof (v as { name?: unknown }).name === 'string' && typeof (v as { help?: unknown }).help === 'string');
  const rows = declared.map((v) => `| \`${v.name}\` | ${v.constructor.name.toLowerCase()} | ${v.labelNames.map((l) => `\`${l}\``).join(', ')} | ${cell(v.help)} |`);
  return ['| Metric | Type | Labels | Meaning |', '|---|---|---|---|', ...rows].join('\n');
}

/** The process and Node.js metrics (src/daemon/prometheus.ts), with the daemon's prefix. */
function processMetricsTable(): string {
  const rows = PROCESS_METRICS.map(
    (m) => `| \`${PROCESS_METRICS_PREFIX}${m.name}\` | ${m.type} | ${m.labelNames.map((l) => `\`${l}\``).join(', ')} | ${cell(m.help)}${'linux' in m ? ' Linux (procfs) only.' : ''} |`,
  );
  return ['| Metric | Type | Labels | Meaning |', '|---|---|---|---|', ...rows].join('\n');
}

const SWITCH_OF: Record<Feature, string> = {
  always: 'every install',
  ec2: 'EnableEc2',
  audit: 'EnableAudit',
  manage: 'AccessMode=manage',
  'manage+boundaries': 'AccessMode=manage + EnablePermissionBoundaries',
  'manage+ec2': 'AccessMode=manage + EnableEc2',
  'local-only': 'never granted (local `ledger init` only)',
};
const SCOPE_TITLE = { connector: "The connector's own role (ECS task role, EKS IRSA / Pod Identity role)", management: 'The management role (management account)', member: 'The member role (every account, the management account included)' } as const;

function permissionsTable(): string {
  return SCOPES.map((scope) => {
    const rows = new Map<string, { switches: Set<string>; needs: Set<string> }>();
    for (const n of allNeeds()) {
      for (const a of n.actions[scope] ?? []) {
        const r = rows.get(a) ?? { switches: new Set<string>(), needs: new Set<string>() };
        r.switches.add(SWITCH_OF[n.feature]);
        r.needs.add(n.id);
        rows.set(a, r);
      }
    }
    const lines = [...rows.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([a, r]) => {
      // An action needed in every install is granted whatever else needs it too.
      const granted = [...r.switches].filter((x) => x !== SWITCH_OF['local-only']);
      const sw = r.switches.has('every install') ? 'every install' : granted.length ? granted.sort().join('; ') : SWITCH_OF['local-only'];
      return `| \`${a}\` | ${UNGRANTED_ACTIONS.includes(a) ? 'needs no grant' : cell(sw)} | ${[...r.needs].sort().map((n) => `\`${n}\``).join(', ')} |`;
    });
    return [`### ${SCOPE_TITLE[scope]}`, '', '| Action | Granted with | Used by |', '|---|---|---|', ...lines].join('\n');
  }).join('\n\n');
}

const TARGETS: Array<{ file: string; name: string; render: () => string }> = [
  { file: 'docs/configuration.md', name: 'settings', render: settingsTable },
  { file: 'docs/operations.md', name: 'error-codes', render: errorTable },
  { file: 'docs/operations.md', name: 'exit-codes', render: exitCodeTable },
  { file: 'docs/operations.md', name: 'metrics', render: metricsTable },
  { file: 'docs/operations.md', name: 'process-metrics', render: processMetricsTable },
  { file: 'docs/permissions.md', name: 'permissions', render: permissionsTable },
  { file: 'helm/access-connector/README.md', name: 'values', render: chartValuesTable },
];

function apply(text: string, name: string, body: string, file: string): string {
  const begin = `<!-- BEGIN GENERATED: ${name} -->`;
  const end = `<!-- END GENERATED: ${name} -->`;
  const i = text.indexOf(begin);
  const j = text.indexOf(end);
  if (i < 0 || j < i) throw new Error(`${file} lacks the markers for "${name}"`);
  return `${text.slice(0, i + begin.length)}\n${body}\n${text.slice(j)}`;
}

/** Every `event: '…'` the code logs must be explained in docs/operations.md. */
function undocumentedEvents(): string[] {
  const ops = readFileSync(resolve(REPO_ROOT, 'docs/operations.md'), 'utf8');
  const events = new Set<string>();
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (p.endsWith('.ts')) for (const m of readFileSync(p, 'utf8').matchAll(/event: '([a-z][\w.]*)'/g)) events.add(m[1]!);
    }
  };
  walk(resolve(REPO_ROOT, 'src'));
  return [...events].filter((e) => !ops.includes(`\`${e}\``)).sort();
}

const mode = process.argv[2];
let stale = 0;
for (const e of undocumentedEvents()) {
  console.error(`docs/operations.md: log event "${e}" is not documented in the Log events table`);
  stale++;
}
for (const t of TARGETS) {
  const path = resolve(REPO_ROOT, t.file);
  const before = readFileSync(path, 'utf8');
  const after = apply(before, t.name, t.render(), t.file);
  if (before === after) continue;
  if (mode === '--write') {
    writeFileSync(path, after);
    console.log(`updated ${t.file} (${t.name})`);
  } else {
    console.error(`${t.file}: the generated section "${t.name}" is stale; run: npm run docs`);
    stale++;
  }
}

// The daemon's copy of src/permissions.ts `declaredActions()`: computing it there would load
// every sync source and access kind (and their AWS SDK clients) at start.
const declaredFile = 'src/declared-actions.ts';
const declaredText = [
  '// Generated by scripts/docs.ts from src/permissions.ts (`npm run docs`); `npm run lint` fails',
  '// when it is stale. Every IAM action a source, kind or helper declares: the set the daemon',
  "// gives its client factory, which refuses any other (UNDECLARED_AWS_ACTION).",
  'export const DECLARED_ACTIONS: readonly string[] = [',
  ...[...declaredActions()].sort().map((a) => `  '${a}',`),
  '];',
  '',
].join('\n');
{
  const path = resolve(REPO_ROOT, declaredFile);
  if (!existsSync(path) || readFileSync(path, 'utf8') !== declaredText) {
    if (mode === '--write') {
      writeFileSync(path, declaredText);
      console.log(`updated ${declaredFile}`);
    } else {
      console.error(`${declaredFile} is stale; run: npm run docs (then build again)`);
      stale++;
    }
  }
}

/** Files under a directory, as paths relative to the repository root. */
function filesUnder(dir: string): string[] {
  const abs = resolve(REPO_ROOT, dir);
  if (!existsSync(abs)) return [];
  return readdirSync(abs, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(REPO_ROOT, join(e.parentPath, e.name)));
}

const schemas = protocolSchemas();
for (const [file, json] of schemas) {
  const path = resolve(REPO_ROOT, file);
  const after = renderSchema(json);
  if (existsSync(path) && readFileSync(path, 'utf8') === after) continue;
  if (mode === '--write') {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, after);
    console.log(`updated ${file}`);
  } else {
    console.error(`${file}: the JSON Schema is missing or stale; run: npm run docs`);
    stale++;
  }
}
for (const file of filesUnder('docs/protocol')) {
  if (schemas.has(file)) continue;
  if (mode === '--write') {
    rmSync(resolve(REPO_ROOT, file));
    console.log(`removed ${file} (no longer generated)`);
  } else {
    console.error(`${file}: not generated by scripts/protocol-schemas.ts; run: npm run docs`);
    stale++;
  }
}
if (stale > 0) process.exit(1);
