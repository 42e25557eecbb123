// Tiny flag parser for the operator commands: `--name value`, `--name=value`, `--flag`.
// Unknown flags are a usage error (exit 64), never silently ignored.
import { EXIT } from '../exit-codes.js';

export class UsageError extends Error {}

export type FlagSpec = Record<string, 'string' | 'boolean'>;

/**
 * The options of every command, the one list the parser accepts and the test of
 * `--help` checks (each must have a line of its own in its command's help).
 */
export const COMMAND_FLAGS = {
  run: {},
  doctor: { integration: 'string', json: 'boolean', accounts: 'string', role: 'string' },
  sync: { integration: 'string', params: 'string', out: 'string', quiet: 'boolean' },
  grant: { integration: 'string', params: 'string' },
  revoke: { integration: 'string', params: 'string', expired: 'boolean', all: 'boolean', yes: 'boolean' },
  policy: { policy: 'string', integration: 'string', params: 'string', json: 'boolean' },
  ledger: {},
  version: {},
  healthcheck: {},
} as const satisfies Record<string, FlagSpec>;

export type CommandName = keyof typeof COMMAND_FLAGS;

export function parseFlags(args: string[], spec: FlagSpec): Record<string, string | boolean> {
  const out: Record<string, string | boolean> = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith('--')) throw new UsageError(`unexpected argument "${a.slice(0, 40)}"`);
    const [name, inline] = a.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    const kind = Object.hasOwn(spec, name) ? spec[name] : undefined;
    if (!kind) throw new UsageError(`unknown option --${name.slice(0, 40)}`);
    if (kind === 'boolean') {
      if (inline !== undefined) throw new UsageError(`--${name} takes no value`);
      out[name] = true;
    } else {
      const v = inline ?? args[++i];
      if (v === undefined || (inline === undefined && v.startsWith('--'))) throw new UsageError(`--${name} needs a value`);
      out[name] = v;
    }
  }
  return out;
}

/** Thrown to end a command with an exit code after its message was printed. */
export class CommandExit extends Error {
  constructor(readonly code: number, message?: string) {
    super(message ?? `exit ${code}`);
  }
}

/** Thrown when the policy file or the connector's own protections refuse the access. */
export class RefusedError extends Error {
  readonly exitCode = EXIT.REFUSED;
}
