// The integration check report, shared by `access-connector doctor` and the `check` job.
// Every item says what was tested, how it went, and — when it failed — the fix.

export type CheckStatus = 'pass' | 'fail' | 'warn' | 'skip';

export interface CheckItem {
  id: string;
  title: string;
  status: CheckStatus;
  detail: string;
  /** What to change, naming the template parameter or policy, when status is fail or warn. */
  fix?: string;
  /** The AWS actions this item exercised (a cheap real call each). */
  actions?: string[];
  code?: string;
}

export interface CheckReport {
  ok: boolean;
  integrationId?: string;
  generatedAt: string;
  items: CheckItem[];
}

export function makeReport(items: CheckItem[], integrationId?: string): CheckReport {
  return {
    ok: items.every((i) => i.status !== 'fail'),
    ...(integrationId !== undefined && { integrationId }),
    generatedAt: new Date().toISOString(),
    items,
  };
}

const MARK: Record<CheckStatus, string> = { pass: 'PASS', fail: 'FAIL', warn: 'WARN', skip: 'SKIP' };

/** A plain-text table for a terminal. */
export function renderReport(report: CheckReport, color: boolean): string {
  const paint = (s: CheckStatus, text: string) => {
    if (!color) return text;
    const c = s === 'pass' ? 32 : s === 'fail' ? 31 : s === 'warn' ? 33 : 90;
    return `\x1b[${c}m${text}\x1b[0m`;
  };
  const width = Math.max(...report.items.map((i) => i.title.length), 10);
  const lines = report.items.map((i) => {
    const head = `${paint(i.status, MARK[i.status])}  ${i.title.padEnd(width)}  ${i.detail}`;
    return i.fix && (i.status === 'fail' || i.status === 'warn') ? `${head}\n${' '.repeat(width + 8)}fix: ${i.fix}` : head;
  });
  const failed = report.items.filter((i) => i.status === 'fail').length;
  const warned = report.items.filter((i) => i.status === 'warn').length;
  lines.push('', report.ok ? `OK (${warned} warning${warned === 1 ? '' : 's'})` : `${failed} check${failed === 1 ? '' : 's'} failed`);
  return `${lines.join('\n')}\n`;
}
