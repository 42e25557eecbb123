// Tiny flag parser for the operator commands: `--name value`, `--flag`. Unknown flags are
// a usage error (exit 64), never silently ignored.
export class UsageError extends Error {}

export function parseFlags(args: string[], spec: Record<string, 'string' | 'boolean'>): Record<string, string | boolean> {
  const out: Record<string, string | boolean> = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith('--')) throw new UsageError(`unexpected argument "${a.slice(0, 40)}"`);
    const [name, inline] = a.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    const kind = spec[name];
    if (!kind) throw new UsageError(`unknown option --${name.slice(0, 40)}`);
    if (kind === 'boolean') out[name] = true;
    else {
      const v = inline ?? args[++i];
      if (v === undefined) throw new UsageError(`--${name} needs a value`);
      out[name] = v;
    }
  }
  return out;
}

/** Thrown to end a command with an exit code after its message was printed. */
export class CommandExit extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}
