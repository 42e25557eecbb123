#!/usr/bin/env node
// access-connector CLI. `run` (the default) is the daemon; the other commands are tools
// for operators. Exit codes: src/exit-codes.ts (one table, shared with docs/operations.md).
// Only light modules are imported up front: `healthcheck` runs every 30 s inside the
// container, and loading the AWS SDK and the daemon for it would cost ~0.5 s of CPU and
// ~120 MB each time. Every command loads what it needs when it runs.
import { http } from './node-http.js';
import type { JobHandler } from './jobs/types.js';
import type { Daemon } from './daemon/daemon.js';
import { createLogger, registerSecret, scrub } from './log.js';
import { VERSION } from './version.js';
import { EXIT, EXIT_CODES } from './exit-codes.js';
import { COMMAND_FLAGS, type CommandName } from './commands/args.js';

const COMMANDS = Object.keys(COMMAND_FLAGS) as CommandName[];
const exitCodeLines = Object.values(EXIT_CODES).map((e) => `  ${String(e.code).padStart(3)}  ${e.meaning.replace(/`/g, '')}`).join('\n');

const HELP: Record<CommandName | 'main', string> = {
  main: `access-connector ${VERSION}

Usage: access-connector [command] [options]
       access-connector --version | --help | help COMMAND

Commands:
  run          Run the daemon (default): connect to the control plane and take jobs.
  doctor       Check the configuration, the control plane and AWS access; name each fix.
  sync         Run a sync locally and write the entities as NDJSON (no control plane).
  grant        Grant access locally (same output as the grant job).
  revoke       Revoke a grant locally; --expired / --all revoke from the ledger alone.
  ledger       Create (init), list or show the grant ledger's records.
  policy       policy explain: what the policy file decides for a grant, on AWS's facts.
  version      Print the version (also: --version, -V).
  healthcheck  Exit 0 when the local daemon's /healthz answers 200 (the image's HEALTHCHECK).
  help         Show help for a command: access-connector help run

Configuration comes from environment variables; see docs/configuration.md.

Exit codes (every command; docs/operations.md, "Exit codes"):
${exitCodeLines}
`,
  run: `Usage: access-connector run

Runs the daemon. It dials CONTROL_PLANE_URL, takes jobs, and serves /healthz, /readyz
and /metrics on HEALTH_PORT. SIGTERM drains (running jobs get SHUTDOWN_GRACE_SECONDS);
a second SIGTERM or SIGINT exits at once. SIGHUP re-reads CONNECTOR_TOKEN_FILE and, when
the control plane rejected the token, tries again at once. It takes no options.

Required: CONNECTOR_ID, CONTROL_PLANE_URL, CONNECTOR_TOKEN_FILE (or CONNECTOR_TOKEN).
Exit codes: ${EXIT.OK} after a clean drain, ${EXIT.CONFIG} on a configuration error, ${EXIT.USAGE} on bad usage,
${EXIT.INTERRUPTED} / ${EXIT.TERMINATED} on a second SIGINT / SIGTERM.
`,
  doctor: `Usage: access-connector doctor --integration FILE [--json] [--accounts N] [--role ARN]

Checks what the connector needs, and says exactly what to fix: the control-plane
connection and token (when CONTROL_PLANE_URL is set), the connector's AWS identity, the
management role and ExternalId, organization access, the member role in a few accounts,
IAM Identity Center, Resource Explorer, SSM, CloudTrail (when audit is on) and the grant
ledger (LEDGER_TABLE). Every AWS check is a real read-only call; nothing is changed.

  --integration FILE   the integration, as JSON (docs/protocol.md, "Integration"), e.g.
                       the one the control plane shows for this connector
  --json               print the report as JSON instead of a table
  --accounts N         member accounts to try the member role in (default 3)
  --role ARN[,ARN...]  also check that these roles are opted in for just-in-time access
                       (tag access-connector-jit=enabled), and say how to opt one in

Exit codes: ${EXIT.OK} when nothing failed, ${EXIT.FAILED} when a check failed, ${EXIT.USAGE} on bad usage,
${EXIT.CONFIG} on a configuration error.
`,
  sync: `Usage: access-connector sync --integration FILE [--params FILE] [--out FILE] [--quiet]

Runs the same sync job the control plane sends, in this process, and writes one entity
per line (NDJSON) to --out (default: stdout). On a terminal, stderr shows the units found
and done (a percentage once discovery has found them all) and the entities read; at the
end, a summary: counts per kind, coverage, and the errors, one line per account and cause.

  --integration FILE   the integration, as JSON (docs/protocol.md, "Integration")
  --params FILE        sync params as JSON (default {"mode":"full"})
  --out FILE           where to write the entities ('-' for stdout)
  --quiet              no progress line on stderr (the summary is still printed)

Exit codes: ${EXIT.OK} when the sync succeeded (units may still have failed: see the summary),
${EXIT.FAILED} when it failed, ${EXIT.USAGE} on bad usage, ${EXIT.CONFIG} on a configuration error.
Ctrl-C cancels cleanly.
`,
  grant: `Usage: access-connector grant --integration FILE --params FILE

Grants access without a control plane, through the same code as the grant job: the
customer's policy file, the grant ledger (LEDGER_TABLE) and the access kind. Prints the
job's output (access details) as JSON.

  --integration FILE   the integration, as JSON (docs/protocol.md, "Integration")
  --params FILE        grant params: {"grantId","accessKind","principal","target","expiresAt"}

Exit codes: ${EXIT.OK} when granted, ${EXIT.FAILED} when it failed, ${EXIT.REFUSED} when the policy file or the
connector's protections refused it, ${EXIT.USAGE} on bad usage, ${EXIT.CONFIG} on a configuration error
(LEDGER_TABLE not set included).
`,
  revoke: `Usage: access-connector revoke --integration FILE --params FILE
       access-connector revoke --expired
       access-connector revoke --all --yes

The first form revokes one grant (same params as grant; the ledger decides what is removed).
Access that existed before a grant, or that another active grant still holds, stays.

  --integration FILE   the integration, as JSON (docs/protocol.md, "Integration")
  --params FILE        the grant's params, as given to grant
  --expired            revoke every grant past its expiry now, from the ledger alone
                       (no control plane, no integration file)
  --all                revoke every active grant in the ledger (the kill switch)
  --yes                confirm --all

Exit codes: ${EXIT.OK} when everything asked was revoked, ${EXIT.FAILED} when something failed,
${EXIT.REFUSED} when the policy file refused it, ${EXIT.USAGE} on bad usage, ${EXIT.CONFIG} on a configuration error.
`,
  ledger: `Usage: access-connector ledger init | list | show GRANT_ID

init   creates the LEDGER_TABLE table (on-demand, encrypted) for local use; the
       deployment templates create it in production.
list   prints one JSON line per grant (state, kind, expiry); says so on stderr when
       the ledger holds none.
show   prints one grant with its append-only history.

Exit codes: ${EXIT.OK} when done, ${EXIT.FAILED} when the grant is not in the ledger or the table
cannot be read, ${EXIT.USAGE} on bad usage, ${EXIT.CONFIG} when LEDGER_TABLE is not set.
`,
  policy: `Usage: access-connector policy explain --policy FILE --integration FILE --params FILE [--json]

Tells what the policy file would decide for one grant, and why, without changing
anything: the request is checked as on receipt, then the access kind reads AWS as a grant
would (reads only) and every rule is checked on what it found. Prints the decision, the
rule that made it and the facts it saw (accounts, OU paths, the principal's names,
permission sets, roles, instances and their roles, managed policies). See docs/policy.md.

  --policy FILE        the policy file to test (JSON or YAML)
  --integration FILE   the integration, as JSON (docs/protocol.md, "Integration")
  --params FILE        grant params: {"grantId","accessKind","principal","target","expiresAt"}
  --json               print the same as one JSON object

Exit codes: ${EXIT.OK} allowed, ${EXIT.REFUSED} denied by the policy, ${EXIT.FAILED} the grant would fail before
the policy decides (the access kind refused, or AWS could not be read), ${EXIT.USAGE} bad usage,
${EXIT.CONFIG} invalid policy file.
`,
  version: `Usage: access-connector version
       access-connector --version

Prints the version and exits.
`,
  healthcheck: `Usage: access-connector healthcheck

Asks the daemon running on this host for GET http://127.0.0.1:HEALTH_PORT/healthz
(3 s timeout) and prints one line. Reads HEALTH_PORT (default 8080) and nothing else,
so it works with any container environment. It is the container image's HEALTHCHECK.
It needs HEALTH_HOST to include 127.0.0.1 (the default 0.0.0.0 does).

Exit codes: ${EXIT.OK} when /healthz answered 200, ${EXIT.FAILED} otherwise, ${EXIT.CONFIG} when HEALTH_PORT is not 1–65535.
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
      process.exit(EXIT.CONFIG);
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
    process.exit(EXIT.INTERNAL);
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
      process.exit(sig === 'SIGINT' ? EXIT.INTERRUPTED : EXIT.TERMINATED);
    }
    daemon.shutdown(sig).then(
      () => {
        log.info({ event: 'daemon.exit', code: 0 }, 'stopped cleanly');
        process.exit(0);
      },
      (err: unknown) => {
        log.fatal({ err }, 'shutdown failed');
        process.exit(EXIT.FAILED);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // SIGHUP: the operator replaced the token; retry at once instead of at the next attempt.
  process.on('SIGHUP', () => daemon.reload());

  try {
    await daemon.start();
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE' || e.code === 'EACCES') {
      process.stderr.write(`access-connector: configuration error: HEALTH_PORT: cannot listen on ${config.healthHost}:${config.healthPort} (${e.code})\n`);
      process.exit(EXIT.CONFIG);
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
    return EXIT.CONFIG;
  }
  const url = `http://127.0.0.1:${raw}/healthz`;
  const status = await new Promise<number | string>((resolve) => {
    const req = http.request(url, { method: 'GET', agent: false, signal: AbortSignal.timeout(3000) }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.name === 'AbortError' || err.name === 'TimeoutError' ? 'no answer within 3 s' : (err.code ?? err.message)));
    req.end();
  });
  if (status === 200) {
    process.stdout.write(`healthy: ${url} answered 200\n`);
    return EXIT.OK;
  }
  process.stdout.write(`unhealthy: ${url} ${typeof status === 'number' ? `answered ${status}` : `failed (${status})`}\n`);
  return EXIT.FAILED;
}

/** Bad usage: the reason and the usage on stderr, exit 64. Nothing has been started. */
function usageError(message: string, topic: CommandName | 'main' = 'main'): void {
  process.stderr.write(`access-connector: ${message}\n\n${HELP[topic]}`);
  process.exitCode = EXIT.USAGE;
}

const isCommand = (c: string | undefined): c is CommandName => c !== undefined && (COMMANDS as string[]).includes(c);
const HELP_FLAGS = ['--help', '-h'];
const VERSION_FLAGS = ['--version', '-V'];

export async function main(argv: string[]): Promise<void> {
  const args = argv.slice(2);
  // Before the command word only --help and --version are allowed; after it, the command's
  // own options (and --help). Anything else is a usage error, so a typo never starts the daemon.
  const at = args.findIndex((a) => !a.startsWith('-'));
  const leading = at < 0 ? args : args.slice(0, at);
  const word = at < 0 ? undefined : args[at];
  const rest = at < 0 ? [] : args.slice(at + 1);
  const unknownLeading = leading.find((a) => !HELP_FLAGS.includes(a) && !VERSION_FLAGS.includes(a));
  if (unknownLeading !== undefined) return usageError(`unknown option ${unknownLeading.slice(0, 40)}`);
  if (leading.some((a) => VERSION_FLAGS.includes(a))) {
    process.stdout.write(`access-connector ${VERSION}\n`);
    return;
  }
  if (word === 'help') {
    const topic = rest.find((a) => !a.startsWith('-'));
    if (topic === undefined) process.stdout.write(HELP.main);
    else if (isCommand(topic)) process.stdout.write(HELP[topic]);
    else usageError(`no help for "${topic.slice(0, 40)}": it is not a command`);
    return;
  }
  if (word !== undefined && !isCommand(word)) return usageError(`unknown command "${word.slice(0, 40)}"`);
  const command: CommandName = word ?? 'run';
  if (leading.length > 0 || rest.some((a) => HELP_FLAGS.includes(a))) {
    process.stdout.write(word === undefined ? HELP.main : HELP[command]);
    return;
  }
  // Commands without options take no arguments at all (ledger parses its own).
  if (Object.keys(COMMAND_FLAGS[command]).length === 0 && command !== 'ledger' && rest.length > 0) {
    return usageError(`${command} takes no ${rest[0]!.startsWith('-') ? `option ${rest[0]!.slice(0, 40)}` : `argument "${rest[0]!.slice(0, 40)}"`}`, command);
  }
  let code: number;
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
      code = await doctor(rest);
      break;
    }
    case 'sync': {
      const { syncCommand } = await import('./commands/sync.js');
      code = await syncCommand(rest);
      break;
    }
    case 'grant':
    case 'revoke': {
      const { accessCommand } = await import('./commands/access.js');
      code = await accessCommand(command, rest);
      break;
    }
    case 'policy': {
      const { policyCommand } = await import('./commands/policy.js');
      process.exitCode = await policyCommand(args.slice(args.indexOf('policy') + 1));
      return;
    }
    case 'ledger': {
      const { ledgerCommand } = await import('./commands/access.js');
      code = await ledgerCommand(rest);
      break;
    }
  }
  // A command prints why its usage was wrong; the usage itself follows from here.
  if (code === EXIT.USAGE) process.stderr.write(`\n${HELP[command]}`);
  process.exitCode = code;
}

// Run when executed directly (not when imported by tests or wrappers).
const invokedAs = process.argv[1] ?? '';
if (/(?:^|[\\/])(?:main\.js|access-connector)$/.test(invokedAs)) {
  main(process.argv).catch((err: unknown) => {
    process.stderr.write(`access-connector: ${scrub(err instanceof Error ? err.message : String(err))}\n`);
    process.exit(EXIT.FAILED);
  });
}
