// The exit codes of every access-connector command, in one table. The code returns them by
// name (EXIT.USAGE), `access-connector --help` lists them, and the table in
// docs/operations.md is generated from here. This module imports nothing: `healthcheck`
// and the argument parsing load it without the rest of the connector.

export interface ExitCodeInfo {
  code: number;
  /** When a command exits with it, in an operator's words. */
  meaning: string;
}

export const EXIT_CODES = {
  OK: { code: 0, meaning: 'Done: the command did what was asked (`doctor`: no check failed; `run`: stopped after a clean drain).' },
  FAILED: { code: 1, meaning: 'The job or the check failed: a `doctor` check failed, a `sync`, `grant` or `revoke` failed (the output names the error code), `healthcheck` got no 200, or the drain failed.' },
  USAGE: { code: 64, meaning: 'Bad usage: an unknown command, option or argument, a missing option, or an integration or params file that cannot be read or is invalid. The usage of the command is printed; nothing was started.' },
  INTERNAL: { code: 70, meaning: 'An uncaught exception (a bug): report the `INTERNAL_ERROR` log line.' },
  REFUSED: { code: 77, meaning: "Refused: the customer's policy file (`POLICY_DENIED`) or the connector's own protections (`ACCESS_REFUSED`) forbid the access. Nothing was changed." },
  CONFIG: { code: 78, meaning: 'Configuration error: a setting, the policy file or the ledger table (`LEDGER_TABLE`) is missing or invalid, or `HEALTH_PORT` cannot be listened on. One line on stderr names what to fix.' },
  INTERRUPTED: { code: 130, meaning: 'A second SIGINT (Ctrl-C) during a drain: exited at once.' },
  TERMINATED: { code: 143, meaning: 'A second SIGTERM during a drain: exited at once.' },
} as const satisfies Record<string, ExitCodeInfo>;

export type ExitName = keyof typeof EXIT_CODES;

/** Exit codes by name: `EXIT.USAGE` is 64. */
export const EXIT = Object.fromEntries(Object.entries(EXIT_CODES).map(([k, v]) => [k, v.code])) as { [K in ExitName]: (typeof EXIT_CODES)[K]['code'] };
