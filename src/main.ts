#!/usr/bin/env node
// access-connector CLI. `run` (the default) is the daemon; the other commands are tools
// for operators. Exit codes: 0 ok, 1 failure, 64 usage, 78 configuration.
// Only light modules are imported up front: `healthcheck` runs every 30 s inside the
// container, and loading the AWS SDK and the daemon for it would cost ~0.5 s of CPU and
// ~120 MB each time. Every command loads what it needs when it runs.
import { request } from 'node:http';
import type { JobHandler } from './jobs/types.js';
import type { Daemon } from './daemon/daemon.js';
import { createLogger, registerSecret, scrub } from './log.js';
import { VERSION } from './version.js';

const EXIT_USAGE = 64;
// Same value as config.ts's EXIT_CONFIG (kept here so healthcheck need not load config.ts).
const EXIT_CONFIG = 78;

const HELP: Record<string, string> = {
  main: `access-connector ${VERSION}

Usage: access-connector [command] [options]

Commands:
  run          Run the daemon (default): connect to the control plane and take jobs.
  doctor       Check the configuration, the control plane and AWS access; name each fix.
  sync         Run a sync locally and write the entities as NDJSON (no control plane).
  grant        Grant access locally (same output as the grant job).
  revoke       Revoke a grant locally; --expired / --all revoke from the ledger alone.
  ledger       Create (init), list or show the grant ledger's records.
  version      Print the version.
  healthcheck  Exit 0 when the local daemon's /healthz answers 200 (the image's HEALTHCHECK).
  help         Show help for a command: access-connector help run

Configuration comes from environment variables; see docs/configuration.md.
`,
  run: `Usage: access-connector run

Runs the daemon. It dials CONTROL_PLANE_URL, takes jobs, and serves /healthz, /readyz
and /metrics on HEALTH_PORT. SIGTERM drains (running jobs get SHUTDOWN_GRACE_SECONDS);
a second SIGTERM or SIGINT exits at once.

Required: CONNECTOR_ID, CONTROL_PLANE_URL, CONNECTOR_TOKEN_FILE (or CONNECTOR_TOKEN).
Exit codes: 0 after a clean drain, 78 on a configuration error.
`,
  doctor: `Usage: access-connector doctor --integration FILE [--json]

Checks what the connector needs, and says exactly what to fix: the control-plane
connection and token (when CONTROL_PLANE_URL is set), the connector's AWS identity, the
management role and ExternalId, organization access, the member role in a few accounts,
IAM Identity Center, Resource Explorer, SSM, CloudTrail (when audit is on) and the grant
ledger (LEDGER_TABLE). Every AWS check is a real read-only call; nothing is changed.

  --integration FILE   the integration, as JSON (protocol §4), e.g. the one the control
                       plane shows for this connector
  --json               print the report as JSON instead of a table
  --accounts N         member accounts to try the member role in (default 3)

Exit codes: 0 when nothing failed, 1 when a check failed, 64 on bad usage.
`,
  sync: `Usage: access-connector sync --integration FILE [--out FILE] [--params FILE] [--quiet]

Runs the same sync job the control plane sends, in this process, and writes one entity
per line (NDJSON) to --out (default: stdout). A progress bar goes to stderr on a
terminal, and a summary (counts per kind, coverage, errors) at the end.

  --integration FILE   the integration, as JSON (protocol §4)
  --params FILE        sync params as JSON (default {"mode":"full"})
  --out FILE           where to write the entities ('-' for stdout)

Exit codes: 0 when the sync succeeded (units may still have failed: see the summary),
1 when it failed, 64 on bad usage. Ctrl-C cancels cleanly.
`,
  grant: `Usage: access-connector grant --integration FILE --params FILE

Grants access without a control plane, through the same code as the grant job: the
customer's policy file, the grant ledger (LEDGER_TABLE) and the access kind. Prints the
job's output (access details) as JSON.

  --integration FILE   the integration, as JSON (protocol §4)
  --params FILE        grant params: {"grantId","accessKind","principal","target","expiresAt"}

Exit codes: 0 when granted, 1 when it failed or was vetoed, 64 on bad usage.
`,
  revoke: `Usage: access-connector revoke --integration FILE --params FILE
       access-connector revoke --expired
       access-connector revoke --all --yes

The first form revokes one grant (same params as grant; the ledger decides what is removed).
--expired revokes every grant past its expiry now; --all revokes every active grant (the
kill switch). Both work from the ledger alone: no control plane, no integration file.
Access that existed before a grant, or that another active grant still holds, stays.

Exit codes: 0 when everything asked was revoked, 1 when something failed, 64 on bad usage.
`,
  ledger: `Usage: access-connector ledger init | list | show GRANT_ID

init   creates the LEDGER_TABLE table (on-demand, encrypted) for local use; the
       deployment templates create it in production.
list   prints one JSON line per grant (state, kind, expiry).
show   prints one grant with its append-only history.
`,
  version: `Usage: access-connector version

Prints the version and exits.
`,
  healthcheck: `Usage: access-connector healthcheck

Asks the daemon running on this host for GET http://127.0.0.1:HEALTH_PORT/healthz
(3 s timeout) and prints one line. Reads HEALTH_PORT (default 8080) and nothing else,
so it works with any container environment. It is the container image's HEALTHCHECK.
It needs HEALTH_HOST to include 127.0.0.1 (the default 0.0.0.0 does).

Exit codes: 0 when /healthz answered 200, 1 otherwise, 78 when HEALTH_PORT is not 1–65535.
`,
};

export interface RunOptions {
  env?: Record<string, string | undefined>;
  /** Extra job handlers (tests plug a controllable job in here). */
  extraHandlers?: JobHandler[];
  timing?: ConstructorParameters<typeof Daemon>[0]['timing'];
}

export async function runDaemon(opts: RunOptions = {}): Promise<never> {
  const { ConfigError, loadConfig, secretValues } = await import('./config.js');
  const [{ Daemon }, { Metrics }, { AwsRuntime }, { defaultHandlers }, { DECLARED_ACTIONS }] = await Promise.all([
    import('./daemon/daemon.js'),
    import('./daemon/metrics.js'),
    import('./aws/runtime.js'),
    import('./jobs/registry.js'),
    import('./declared-actions.js'),
  ]);
  let config;
  try {
    config = loadConfig(opts.env ?? process.env, { daemon: true });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`access-connector: configuration error: ${scrub(err.message)}\n`);
      process.exit(EXIT_CONFIG);
    }
    throw err;
  }
  for (const s of secretValues(config)) registerSecret(s);
  const log = createLogger({ level: config.logLevel, format: config.logFormat, base: { connectorId: config.connectorId } });

  process.on('unhandledRejection', (reason) => {
    log.error({ err: reason, code: 'INTERNAL_ERROR' }, 'unhandled promise rejection');
  });
  process.on('uncaughtException', (err) => {
    log.fatal({ err, code: 'INTERNAL_ERROR' }, 'uncaught exception; exiting');
    process.exit(70);
  });

  const metrics = new Metrics();
  // The declared actions come as a list generated from src/permissions.ts: computing them
  // here would load every sync source and access kind, which load with their first job.
  const aws = new AwsRuntime({ connectorId: config.connectorId, declaredActions: new Set(DECLARED_ACTIONS), log, quotaShare: config.awsQuotaShare, quotaMultiplier: config.awsQuotaMultiplier, ...(config.proxy && { proxy: config.proxy }), noProxy: config.noProxy, metrics });
  // The ledger and the sweeper (and the DynamoDB client) only with LEDGER_TABLE.
  const ledger = config.ledgerTable ? await (await import('./access/ledger.js')).Ledger.fromConfig(aws, config) : undefined;
  const sweeper = ledger && new (await import('./access/sweeper.js')).Sweeper({ aws, ledger, config, log }, log, config.grantSweepIntervalSeconds * 1000);
  const daemon = new Daemon({
    config,
    log,
    metrics,
    handlers: [...defaultHandlers({ aws, ...(ledger && { ledger }) }), ...(opts.extraHandlers ?? [])],
    ...(sweeper && { sweeper }),
    ...(opts.timing !== undefined && { timing: opts.timing }),
  });

  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      log.warn({ event: 'daemon.forced_exit', signal: sig }, `second signal (${sig}): exiting now`);
      process.exit(sig === 'SIGINT' ? 130 : 143);
    }
    daemon.shutdown(sig).then(
      () => {
        log.info({ event: 'daemon.exit', code: 0 }, 'stopped cleanly');
        process.exit(0);
      },
      (err: unknown) => {
        log.fatal({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  try {
    await daemon.start();
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE' || e.code === 'EACCES') {
      process.stderr.write(`access-connector: configuration error: HEALTH_PORT: cannot listen on ${config.healthHost}:${config.healthPort} (${e.code})\n`);
      process.exit(EXIT_CONFIG);
    }
    throw err;
  }
  return new Promise<never>(() => {});
}

/**
 * The container HEALTHCHECK: GET /healthz on the loopback address. Reads HEALTH_PORT only,
 * never the rest of the configuration, so a probe cannot fail for a reason the daemon
 * itself does not have. Talks plain node:http (no proxy variables apply to it).
 */
export async function healthcheck(rawPort: string | undefined): Promise<number> {
  const raw = rawPort?.trim() || '8080';
  if (!/^\d{1,5}$/.test(raw) || Number(raw) < 1 || Number(raw) > 65535) {
    process.stderr.write(`access-connector: configuration error: HEALTH_PORT: healthcheck needs a whole number from 1 to 65535 (got "${raw.slice(0, 20)}")\n`);
    return EXIT_CONFIG;
  }
  const url = `http://127.0.0.1:${raw}/healthz`;
  const status = await new Promise<number | string>((resolve) => {
    const req = request(url, { method: 'GET', agent: false, signal: AbortSignal.timeout(3000) }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.name === 'AbortError' || err.name === 'TimeoutError' ? 'no answer within 3 s' : (err.code ?? err.message)));
    req.end();
  });
  if (status === 200) {
    process.stdout.write(`healthy: ${url} answered 200\n`);
    return 0;
  }
  process.stdout.write(`unhealthy: ${url} ${typeof status === 'number' ? `answered ${status}` : `failed (${status})`}\n`);
  return 1;
}

export async function main(argv: string[]): Promise<void> {
  const args = argv.slice(2);
  const wantsHelp = args.includes('--help') || args.includes('-h');
  const command = args.find((a) => !a.startsWith('-')) ?? (wantsHelp ? 'help' : 'run');
  if (command === 'help') {
    const topic = args.filter((a) => !a.startsWith('-'))[1] ?? 'main';
    process.stdout.write(HELP[topic] ?? HELP['main']!);
    return;
  }
  if (wantsHelp) {
    process.stdout.write(HELP[command] ?? HELP['main']!);
    return;
  }
  switch (command) {
    case 'run':
      await runDaemon();
      return;
    case 'version':
      process.stdout.write(`access-connector ${VERSION}\n`);
      return;
    case 'healthcheck':
      process.exitCode = await healthcheck(process.env['HEALTH_PORT']);
      return;
    case 'doctor': {
      const { doctor } = await import('./commands/doctor.js');
      process.exitCode = await doctor(args.slice(args.indexOf('doctor') + 1));
      return;
    }
    case 'sync': {
      const { syncCommand } = await import('./commands/sync.js');
      process.exitCode = await syncCommand(args.slice(args.indexOf('sync') + 1));
      return;
    }
    case 'grant':
    case 'revoke': {
      const { accessCommand } = await import('./commands/access.js');
      process.exitCode = await accessCommand(command, args.slice(args.indexOf(command) + 1));
      return;
    }
    case 'ledger': {
      const { ledgerCommand } = await import('./commands/access.js');
      process.exitCode = await ledgerCommand(args.slice(args.indexOf('ledger') + 1));
      return;
    }
    default:
      process.stderr.write(`access-connector: unknown command "${command.slice(0, 40)}"\n\n${HELP['main']}`);
      process.exit(EXIT_USAGE);
  }
}

// Run when executed directly (not when imported by tests or wrappers).
const invokedAs = process.argv[1] ?? '';
if (/(?:^|[\\/])(?:main\.js|access-connector)$/.test(invokedAs)) {
  main(process.argv).catch((err: unknown) => {
    process.stderr.write(`access-connector: ${scrub(err instanceof Error ? err.message : String(err))}\n`);
    process.exit(1);
  });
}
