// Standalone reference control plane for the demo and manual testing.
//   node dist/test/sim/control-plane/cli.js --port 8765 --token demo-token --job job.json
// stdout: the URL on the first line, then one NDJSON line per frame in either direction,
// then a summary line on exit. stderr: sessions, refused upgrades and protocol violations.
import { readFileSync } from 'node:fs';
import readline from 'node:readline';
import { parseArgs } from 'node:util';
import { ReferenceControlPlane, type ControlPlaneEvent, type ControlPlaneOptions, type JobInput } from './server.js';

const USAGE = `usage: cli.js [--port 8765] [--token demo-token ...] [--tls-cert f --tls-key f [--tls-ca f] [--request-client-cert]]
              [--heartbeat 20] [--window 16] [--sign-key private.pem] [--job job.json ...] [--interactive]
              [--quiet-batches] [--exit-after-results]
  --job          a JSON file holding a partial job frame (jobType, params, integration…) or an array of them;
                 sent once a session is welcomed
  --interactive  also read job JSON from stdin, one per line
  --exit-after-results  exit 0 once every sent job has a job.result (or job.rejected), printing a summary`;

function main(): void {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '8765' },
      token: { type: 'string', multiple: true },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'tls-ca': { type: 'string' },
      'request-client-cert': { type: 'boolean', default: false },
      heartbeat: { type: 'string', default: '20' },
      window: { type: 'string', default: '16' },
      'sign-key': { type: 'string' },
      job: { type: 'string', multiple: true },
      interactive: { type: 'boolean', default: false },
      'quiet-batches': { type: 'boolean', default: false },
      'exit-after-results': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (!!values['tls-cert'] !== !!values['tls-key']) throw new Error('--tls-cert and --tls-key go together');

  // Jobs wait here until a session is welcomed; each is sent once.
  const pending: JobInput[] = (values.job ?? []).flatMap((file) => readJobs(readFileSync(file, 'utf8'), file));
  const sentJobIds: string[] = [];
  let stdinOpen = values.interactive;
  let cp: ReferenceControlPlane | null = null;
  const quiet = values['quiet-batches'];

  const out = (obj: unknown): void => {
    process.stdout.write(`${JSON.stringify(obj)}\n`);
  };
  const note = (line: string): void => {
    process.stderr.write(`control-plane: ${line}\n`);
  };

  const flush = (): void => {
    if (!cp || cp.sessions().length === 0) return;
    while (pending.length > 0) {
      const job = pending.shift()!;
      try {
        sentJobIds.push(cp.sendJob(job).jobId);
      } catch (err) {
        note(`job not sent: ${(err as Error).message}`);
      }
    }
  };

  const summary = () => {
    const jobs = cp?.jobs() ?? [];
    const count = (status: string) => jobs.filter((j) => j.result?.status === status).length;
    return {
      summary: {
        jobs: jobs.length,
        succeeded: count('succeeded'),
        failed: count('failed'),
        cancelled: count('cancelled'),
        rejected: jobs.filter((j) => !j.result && j.rejected).length,
        unfinished: jobs.filter((j) => !j.result && !j.rejected).length,
        framesReceived: cp?.received.length ?? 0,
        duplicates: cp?.duplicates() ?? 0,
        violations: cp?.violations.length ?? 0,
        reconnects: cp?.reconnectGaps.length ?? 0,
      },
    };
  };

  let exiting = false;
  const exit = async (): Promise<void> => {
    if (exiting) return;
    exiting = true;
    await cp?.close();
    out(summary());
    process.exit(0);
  };

  const maybeDone = (): void => {
    if (!values['exit-after-results'] || !cp || stdinOpen || pending.length > 0 || sentJobIds.length === 0) return;
    const done = sentJobIds.every((id) => {
      const j = cp!.job(id);
      return !!j && (j.result !== null || j.rejected !== null);
    });
    if (done) void exit();
  };

  const onEvent = (e: ControlPlaneEvent): void => {
    switch (e.kind) {
      case 'frame': {
        const f = e.frame;
        const type = typeof f?.['type'] === 'string' ? f['type'] : null;
        const base = { at: new Date().toISOString(), direction: e.direction, sessionId: e.sessionId, type, jobId: f?.['jobId'] ?? null };
        if (!f) out({ ...base, raw: e.raw.slice(0, 200) });
        else if (quiet && type === 'sync.batch') {
          out({ ...base, seq: f['seq'], entities: Array.isArray(f['entities']) ? f['entities'].length : null });
        } else out({ ...base, frame: f });
        if (e.direction === 'in' && (type === 'job.result' || type === 'job.rejected')) queueMicrotask(maybeDone);
        return;
      }
      case 'welcomed':
        note(`session ${e.session.sessionId} welcomed (connector ${e.session.connectorId})`);
        queueMicrotask(flush);
        return;
      case 'closed':
        note(`session ${e.close.sessionId} closed by ${e.close.by}, code ${e.close.code}`);
        return;
      case 'upgrade':
        if (e.upgrade.status !== 101) note(`upgrade refused with ${e.upgrade.status}: ${e.upgrade.refusedBecause ?? ''}`);
        return;
      case 'violation':
        note(`PROTOCOL VIOLATION: ${e.message}`);
        return;
    }
  };

  const opts: ControlPlaneOptions = {
    port: Number(values.port),
    tokens: values.token ?? ['demo-token'],
    heartbeatSeconds: Number(values.heartbeat),
    window: Number(values.window),
    onEvent,
  };
  if (values['tls-cert'] && values['tls-key']) {
    opts.tls = {
      certPem: readFileSync(values['tls-cert'], 'utf8'),
      keyPem: readFileSync(values['tls-key'], 'utf8'),
      requestClientCert: values['request-client-cert'],
      ...(values['tls-ca'] ? { caPem: readFileSync(values['tls-ca'], 'utf8') } : {}),
    };
  }
  if (values['sign-key']) opts.signingKey = { privateKeyPem: readFileSync(values['sign-key'], 'utf8') };

  process.on('SIGINT', () => void exit());
  process.on('SIGTERM', () => void exit());

  void ReferenceControlPlane.start(opts).then((started) => {
    cp = started;
    process.stdout.write(`${cp.url}\n`);
    if (!values.interactive) return;
    const rl = readline.createInterface({ input: process.stdin });
    rl.on('line', (line) => {
      if (line.trim() === '') return;
      try {
        pending.push(...readJobs(line, 'stdin'));
        flush();
      } catch (err) {
        note((err as Error).message);
      }
    });
    rl.on('close', () => {
      stdinOpen = false;
      maybeDone();
    });
  }, fail);
}

function readJobs(text: string, source: string): JobInput[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new Error(`${source}: not JSON (${(err as Error).message})`);
  }
  const list = Array.isArray(parsed) ? parsed : [parsed];
  for (const j of list) {
    if (typeof j !== 'object' || j === null || typeof (j as { jobType?: unknown }).jobType !== 'string') {
      throw new Error(`${source}: each job needs a string jobType`);
    }
  }
  return list as JobInput[];
}

function fail(err: unknown): void {
  process.stderr.write(`control-plane: ${(err as Error).message}\n${USAGE}\n`);
  process.exit(2);
}

try {
  main();
} catch (err) {
  fail(err);
}
