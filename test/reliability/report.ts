// Figures of the reliability suite. Each scenario prints one line, `RELIABILITY {json}`,
// straight to stdout (jest's console adds stack locations), and appends the JSON to
// $RELIABILITY_OUT when set, which `npm run reliability` collects for docs/reliability.md.
import { appendFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';

/** Long mode (`npm run reliability`): the full sizes. Otherwise CI's scaled-down sizes. */
export const LONG = process.env['RELIABILITY_LONG'] === '1';

/** `fast` in CI, `long` under `npm run reliability`. */
export function size<T>(fast: T, long: T): T {
  return LONG ? long : fast;
}

export function report(scenario: string, figures: Record<string, unknown>): void {
  const line = JSON.stringify({
    scenario,
    mode: LONG ? 'long' : 'fast',
    ...figures,
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model?.trim(), memGiB: Math.round(totalmem() / 2 ** 30), node: process.version },
    at: new Date().toISOString(),
  });
  process.stdout.write(`RELIABILITY ${line}\n`);
  const out = process.env['RELIABILITY_OUT'];
  if (out) appendFileSync(out, `${line}\n`);
}

/** Least-squares slope of y over x (e.g. bytes of RSS per simulated hour). */
export function slope(points: ReadonlyArray<readonly [number, number]>): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const num = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0);
  const den = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  return den === 0 ? 0 : num / den;
}

/** The p-th percentile (0–100) of `xs`, nearest rank. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}
