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
  const draw = (phase: string, done: number, total?: number) => {
    if (!tty || Date.now() - lastDraw < 100) return;
    lastDraw = Date.now();
    const pct = total ? Math.floor((done / total) * 100) : 0;
    const bar = total ? `[${'#'.repeat(Math.floor(pct / 4)).padEnd(25)}] ${pct}%` : '';
    process.stderr.write(`\r${phase} ${done}${total ? `/${total}` : ''} ${bar} ${entities} entities`.padEnd(79));
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
    if (tty) process.stderr.write('\n');
    if (out !== process.stdout) await new Promise<void>((r) => (out as WriteStream).end(() => r()));
    const o = (result.output ?? {}) as { counts?: Record<string, number>; errors?: Array<{ accountId: string; source: string; region: string; code: string; message: string }>; coverage?: Array<{ status: string }> };
    const lines = [
      `sync ${result.status}: ${entities} entities in ${((result.stats['durationMs'] as number) / 1000).toFixed(1)} s, ${String(result.stats['awsCalls'])} AWS calls (${String(result.stats['awsThrottles'])} throttled)`,
      ...Object.entries(o.counts ?? {}).map(([k, n]) => `  ${k.padEnd(24)} ${n}`),
    ];
    const failed = (o.coverage ?? []).filter((c) => c.status === 'failed').length;
    if (o.coverage) lines.push(`coverage: ${o.coverage.length} units, ${failed} failed`);
    for (const e of (o.errors ?? []).slice(0, 20)) lines.push(`  ${e.accountId} ${e.source} ${e.region}: ${e.code}: ${e.message}`);
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
