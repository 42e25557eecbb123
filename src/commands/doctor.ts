// `access-connector doctor`: the integration check for an operator at a terminal.
import { readFileSync } from 'node:fs';
import { fileProblems, locateIssues, parseJson } from '../files.js';
import { colorWanted } from '../config.js';
import { runAwsChecks } from '../check/aws-checks.js';
import { probeControlPlane } from '../check/control-plane.js';
import { makeReport, renderReport } from '../check/report.js';
import { scrub } from '../log.js';
import { integrationSchema, type Integration } from '../protocol/messages.js';
import { VERSION } from '../version.js';
import { EXIT } from '../exit-codes.js';
import { COMMAND_FLAGS, CommandExit, parseFlags, UsageError } from './args.js';
import { commandSetup } from './setup.js';

/** Reads a JSON file an operator wrote; every problem is named with its line and column, nothing cut. */
export function readJsonFile(path: string, what: string): { doc: unknown; text: string } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read the ${what} file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const read = parseJson(text);
  if ('problems' in read) throw new UsageError(`${what} file ${fileProblems(path, read.problems.map((p) => `not valid JSON: ${p}`))}`);
  return { doc: read.doc, text };
}

/** Reads an integration (docs/protocol.md "Integration") from a JSON file; the message names every bad field. */
export function readIntegration(path: string): Integration {
  const { doc, text } = readJsonFile(path, 'integration');
  const parsed = integrationSchema.safeParse(doc);
  if (!parsed.success) throw new UsageError(`integration file ${fileProblems(path, locateIssues(text, parsed.error.issues))}`);
  return parsed.data;
}

export async function doctor(args: string[]): Promise<number> {
  let flags: Record<string, string | boolean>;
  let integration: Integration;
  try {
    flags = parseFlags(args, COMMAND_FLAGS.doctor);
    if (typeof flags['integration'] !== 'string') throw new UsageError('--integration FILE is required');
    if (flags['accounts'] !== undefined && !/^[1-9]\d{0,2}$/.test(String(flags['accounts']))) throw new UsageError('--accounts needs a whole number from 1 to 999');
    integration = readIntegration(flags['integration']);
  } catch (err) {
    process.stderr.write(`access-connector doctor: ${(err as Error).message}\n`);
    return EXIT.USAGE;
  }
  let setup;
  try {
    setup = commandSetup('doctor');
  } catch (err) {
    if (err instanceof CommandExit) return err.code;
    throw err;
  }
  const { config, aws } = setup;
  try {
    const items = [
      await probeControlPlane(config, VERSION),
      ...(await runAwsChecks(aws.session(integration), {
        sampleAccounts: Number(flags['accounts'] ?? 3) || 3,
        // --role ARN[,ARN…]: is each role opted in for just-in-time access?
        ...(typeof flags['role'] === 'string' && { roles: flags['role'].split(',').map((r) => r.trim()).filter(Boolean) }),
        jitRoles: config.jitRoles,
        ...(config.ledgerTable !== undefined && { ledgerTable: config.ledgerTable }),
      })),
    ];
    const report = makeReport(items, integration.id);
    const text = flags['json'] ? `${JSON.stringify(report, null, 2)}\n` : renderReport(report, colorWanted(process.stdout.isTTY));
    process.stdout.write(scrub(text));
    return report.ok ? EXIT.OK : EXIT.FAILED;
  } finally {
    aws.destroy();
  }
}
