// `access-connector sync`: the sync job without a control plane, writing NDJSON.
import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { syncJob } from '../jobs/sync.js';
import { scrub } from '../log.js';
import { EXIT } from '../exit-codes.js';
import { COMMAND_FLAGS, CommandExit, parseFlags, UsageError } from './args.js';
import { commandSetup } from './setup.js';
import { readIntegration, readJsonFile } from './doctor.js';
import { runLocalJob } from './local-job.js';
import type { ProgressFigures } from '../jobs/types.js';


function paramsOf(path: string | boolean | undefined): { params: unknown; paramsFile?: { path: string; text: string } } {
  if (typeof path !== 'string') return { params: { mode: 'full' } };
  const { doc, text } = readJsonFile(path, 'params');
  return { params: doc, paramsFile: { path, text } };
}

export async function syncCommand(args: string[]): Promise<number> {
  let flags: Record<string, string | boolean>;
  try {
    flags = parseFlags(args, COMMAND_FLAGS.sync);
    if (typeof flags['integration'] !== 'string') throw new UsageError('--integration FILE is required');
  } catch (err) {
    process.stderr.write(`access-connector sync: ${(err as Error).message}\n`);
    return EXIT.USAGE;
  }
  let setup;
  try {
    setup = commandSetup('sync');
  } catch (err) {
    if (err instanceof CommandExit) return err.code;
    throw err;
  }
  const { config, log, aws } = setup;
  const outPath = typeof flags['out'] === 'string' ? flags['out'] : '-';
  const out: WriteStream | NodeJS.WriteStream = outPath === '-' ? process.stdout : createWriteStream(outPath);
  const tty = process.stderr.isTTY === true && !flags['quiet'];
  let entities = 0;
  let lastDraw = 0;
  let last: ProgressFigures | undefined;
  // Units found and units done are separate figures: found grows while discovery walks the
  // organization, so a percentage appears only once the plan is complete and never goes back.
  const line = (f: ProgressFigures) => {
    const units = f.discovering
      ? `discovering: ${f.unitsFound} units found, ${f.unitsDone} done`
      : `units ${f.unitsDone}/${f.unitsFound} [${'#'.repeat(Math.floor((f.unitsDone / Math.max(f.unitsFound, 1)) * 25)).padEnd(25)}] ${Math.floor((f.unitsDone / Math.max(f.unitsFound, 1)) * 100)}%`;
    return `${units}, ${f.entitiesRead} entities read`;
  };
  const draw = (_phase: string, _done: number, _total?: number, figures?: ProgressFigures) => {
    if (figures) last = figures;
    if (!tty || !last || Date.now() - lastDraw < 100) return;
    lastDraw = Date.now();
    process.stderr.write(`\r${line(last).padEnd(79)}`);
  };
  try {
    const integration = readIntegration(flags['integration']);
    const result = await runLocalJob(syncJob(aws), {
      config,
      log,
      integration,
      ...paramsOf(flags['params']),
      onBatch: async (batch) => {
        for (const e of batch) {
          if (!out.write(`${JSON.stringify(e)}\n`)) await once(out, 'drain');
        }
        entities += batch.length;
      },
      onProgress: draw,
    });
    if (tty && last) process.stderr.write(`\r${line(last).padEnd(79)}\n`);
    if (out !== process.stdout) await new Promise<void>((r) => (out as WriteStream).end(() => r()));
    const o = (result.output ?? {}) as { counts?: Record<string, number>; errors?: Array<{ accountId: string; source: string; region: string; code: string; message: string }>; coverage?: Array<{ status: string }> };
    const lines = [
      `sync ${result.status}: ${entities} entities in ${((result.stats['durationMs'] as number) / 1000).toFixed(1)} s, ${String(result.stats['awsCalls'])} AWS calls (${String(result.stats['awsThrottles'])} throttled)`,
      ...Object.entries(o.counts ?? {}).map(([k, n]) => `  ${k.padEnd(24)} ${n}`),
    ];
    const failed = (o.coverage ?? []).filter((c) => c.status === 'failed').length;
    if (o.coverage) lines.push(`coverage: ${o.coverage.length} units, ${failed} failed`);
    // One line per account and cause, naming its units: one cause usually fails all of them.
    const byCause = new Map<string, { accountId: string; code: string; message: string; units: string[] }>();
    for (const e of o.errors ?? []) {
      const k = `${e.accountId}|${e.code}|${e.message}`;
      const g = byCause.get(k) ?? { accountId: e.accountId, code: e.code, message: e.message, units: [] };
      g.units.push(`${e.source} ${e.region}`);
      byCause.set(k, g);
    }
    for (const g of [...byCause.values()].slice(0, 20)) {
      lines.push(`  ${g.accountId} (${g.units.length} unit${g.units.length === 1 ? '' : 's'}: ${g.units.join(', ')}): ${g.code}: ${g.message}`);
    }
    if (byCause.size > 20) lines.push(`  … and ${byCause.size - 20} more (the errors are in the job output)`);
    if (result.error) lines.push(`error: ${result.error.code}: ${result.error.message}`);
    process.stderr.write(scrub(`${lines.join('\n')}\n`));
    return result.status === 'succeeded' ? EXIT.OK : EXIT.FAILED;
  } catch (err) {
    process.stderr.write(`access-connector sync: ${scrub((err as Error).message)}\n`);
    return err instanceof UsageError ? EXIT.USAGE : EXIT.FAILED;
  } finally {
    aws.destroy();
  }
}
