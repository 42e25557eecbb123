// `access-connector grant|revoke|ledger`: grant and revoke without a control plane (the
// same handler and output as the jobs), the kill switch that works from the ledger alone
// (`revoke --expired`, `revoke --all`), and the ledger's own housekeeping.
import { Ledger } from '../access/ledger.js';
import { sweepOnce } from '../access/sweeper.js';
import { grantJob } from '../jobs/grant.js';
import { revokeJob } from '../jobs/revoke.js';
import { scrub } from '../log.js';
import { EXIT } from '../exit-codes.js';
import { COMMAND_FLAGS, CommandExit, parseFlags, RefusedError, UsageError } from './args.js';
import { readIntegration, readJsonFile } from './doctor.js';
import { runLocalJob } from './local-job.js';
import { commandSetup, type CommandSetup } from './setup.js';


async function withSetup(command: string, fn: (s: CommandSetup) => Promise<number>): Promise<number> {
  let setup: CommandSetup;
  try {
    setup = commandSetup(command);
  } catch (err) {
    if (err instanceof CommandExit) return err.code;
    throw err;
  }
  try {
    return await fn(setup);
  } catch (err) {
    process.stderr.write(`access-connector ${command}: ${scrub((err as Error).message)}\n`);
    if (err instanceof CommandExit) return err.code;
    return err instanceof UsageError ? EXIT.USAGE : err instanceof RefusedError ? EXIT.REFUSED : EXIT.FAILED;
  } finally {
    setup.aws.destroy();
  }
}

async function ledgerOf(s: CommandSetup): Promise<Ledger> {
  const ledger = await Ledger.fromConfig(s.aws, s.config);
  if (!ledger) {
    throw new CommandExit(EXIT.CONFIG, 'configuration error: LEDGER_TABLE is not set: set it to the grant ledger table the templates created (its name or ARN), or to a new name and run `access-connector ledger init` for local use');
  }
  return ledger;
}

/** `grant` / `revoke` with --integration and --params: one job, printed as the job's output. */
export async function accessCommand(jobType: 'grant' | 'revoke', args: string[]): Promise<number> {
  let flags: Record<string, string | boolean>;
  try {
    flags = parseFlags(args, COMMAND_FLAGS[jobType]);
    const sweep = flags['expired'] === true || flags['all'] === true;
    if (flags['expired'] === true && flags['all'] === true) throw new UsageError('give --expired or --all, not both');
    if (flags['all'] === true && flags['yes'] !== true) throw new UsageError('revoke --all removes every active grant in the ledger: add --yes to confirm');
    if (!sweep && (typeof flags['integration'] !== 'string' || typeof flags['params'] !== 'string')) {
      throw new UsageError('--integration FILE and --params FILE are required');
    }
  } catch (err) {
    process.stderr.write(`access-connector ${jobType}: ${(err as Error).message}\n`);
    return EXIT.USAGE;
  }
  return withSetup(jobType, async (s) => {
    const ledger = await ledgerOf(s);
    if (flags['expired'] === true || flags['all'] === true) {
      // The kill switch: the ledger alone says what to revoke and through which integration.
      const r = await sweepOnce({ aws: s.aws, ledger, config: s.config, log: s.log }, s.log, flags['all'] === true ? 'all' : 'expired');
      process.stdout.write(`${JSON.stringify(r)}\n`);
      return r.failed === 0 ? EXIT.OK : EXIT.FAILED;
    }
    const integration = readIntegration(flags['integration'] as string);
    const handler = jobType === 'grant' ? grantJob(s.aws, ledger) : revokeJob(s.aws, ledger);
    const paramsPath = flags['params'] as string;
    const params = readJsonFile(paramsPath, 'params');
    const result = await runLocalJob(handler, { config: s.config, log: s.log, integration, params: params.doc, paramsFile: { path: paramsPath, text: params.text } });
    process.stdout.write(`${JSON.stringify({ status: result.status, ...(result.output !== undefined && { output: result.output }), ...(result.error && { error: result.error }) }, null, 2)}\n`);
    if (result.status === 'succeeded') return EXIT.OK;
    return result.error?.code === 'POLICY_DENIED' || result.error?.code === 'ACCESS_REFUSED' ? EXIT.REFUSED : EXIT.FAILED;
  });
}

/** `ledger init | list | show GRANT_ID`. */
export async function ledgerCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'init' && sub !== 'list' && sub !== 'show') {
    process.stderr.write(`access-connector ledger: ${sub === undefined ? 'expected' : `unknown subcommand "${sub.slice(0, 40)}": expected`} init, list or show GRANT_ID\n`);
    return EXIT.USAGE;
  }
  return withSetup('ledger', async (s) => {
    const ledger = await ledgerOf(s);
    if (sub === 'init') {
      const r = await ledger.init();
      if (rest.length > 0) throw new UsageError('ledger init takes no argument');
      process.stdout.write(`ledger table ${ledger.table}: ${r}\n`);
      return EXIT.OK;
    }
    if (sub === 'list') {
      if (rest.length > 0) throw new UsageError('ledger list takes no argument');
      let n = 0;
      for await (const g of ledger.grants()) {
        n++;
        process.stdout.write(`${JSON.stringify({ grantId: g.grantId, kind: g.kind, state: g.state, preExisting: g.preExisting, expiresAt: g.expiresAt ?? null, integrationId: g.integration.id })}\n`);
      }
      // stdout stays NDJSON (empty); the person at the terminal is told why it is empty.
      if (n === 0) process.stderr.write(`the ledger table ${ledger.table} holds no grants\n`);
      return EXIT.OK;
    }
    const id = rest[0];
    if (!id || id.startsWith('-') || rest.length > 1) throw new UsageError('ledger show needs one grant id');
    const g = await ledger.getGrant(id);
    if (!g) {
      process.stderr.write(`no grant ${id.slice(0, 64)} in the ledger table ${ledger.table}\n`);
      return EXIT.FAILED;
    }
    // The ExternalId is a secret: the record says whether one is set, never what it is.
    const { externalId, ...integration } = g.integration;
    const shown = { ...g, integration: { ...integration, ...(externalId !== undefined && { externalId: '[REDACTED]' }) } };
    process.stdout.write(`${JSON.stringify({ ...shown, history: await ledger.history(id) }, null, 2)}\n`);
    return EXIT.OK;
  });
}
