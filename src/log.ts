// Logging: pino JSON lines on stdout, written for an operator tailing them.
//
// Secrets are kept out in two layers. Known field paths are redacted by pino. Then every
// finished line passes a scrubber that removes the values of the secrets this process
// knows (the token, the proxy password, …) and anything shaped like an AWS credential,
// wherever in the line it appears — including inside error messages from libraries.
import { pino, type Logger, type LoggerOptions, type DestinationStream } from 'pino';

export type { Logger } from 'pino';

const REDACT_PATHS = [
  'token',
  'authorization',
  'Authorization',
  'password',
  'secret',
  'secretAccessKey',
  'SecretAccessKey',
  'sessionToken',
  'SessionToken',
  'credentials',
  'Credentials',
  'headers.authorization',
  'headers.Authorization',
  '*.token',
  '*.authorization',
  '*.Authorization',
  '*.password',
  '*.secretAccessKey',
  '*.SecretAccessKey',
  '*.sessionToken',
  '*.SessionToken',
  '*.credentials',
  '*.Credentials',
  '*.headers.authorization',
  '*.headers.Authorization',
];

const REDACTED = '[REDACTED]';

// Shapes of AWS credentials and bearer tokens. Access key ids are not secret on their
// own, but they identify a credential and have no business in our logs.
const PATTERNS: RegExp[] = [
  /\b(?:AKIA|ASIA|AROA|AIDA)[A-Z0-9]{16}\b/g,
  /(Bearer\s+)[A-Za-z0-9._~+/=-]+/gi,
  /((?:aws_?)?secret_?access_?key["'\s:=\\]+)[A-Za-z0-9/+=]{16,}/gi,
  /((?:aws_?)?session_?token["'\s:=\\]+)[A-Za-z0-9/+=%]{16,}/gi,
  /(x-amz-security-token["'\s:=\\]+)[A-Za-z0-9/+=%]{16,}/gi,
];

/** Secret values known to this process. Shared so that every logger and error path scrubs them. */
const secrets = new Set<string>();

/** Registers a value that must never appear in output (both raw and JSON-escaped forms). */
export function registerSecret(value: string | undefined): void {
  if (!value || value.length < 4) return;
  secrets.add(value);
  const escaped = JSON.stringify(value).slice(1, -1);
  if (escaped !== value) secrets.add(escaped);
}

/** Removes every known secret and credential-shaped string from a text. */
export function scrub(text: string): string {
  let out = text;
  for (const s of secrets) {
    if (out.includes(s)) out = out.split(s).join(REDACTED);
  }
  for (const re of PATTERNS) {
    out = out.replace(re, (match, prefix?: string) =>
      typeof prefix === 'string' && match.startsWith(prefix) ? `${prefix}${REDACTED}` : REDACTED,
    );
  }
  return out;
}

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

// What a terminal would act on rather than print: C0 and C1 controls (newline, carriage
// return, ESC and CSI start ANSI sequences), DEL, Unicode line/paragraph separators and
// bidi marks, embeddings, overrides and isolates (they reorder what is displayed).
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const SHORT_ESCAPES: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * Makes text from anywhere (control-plane messages, AWS names, tags, descriptions) safe to
 * print: one line, no terminal control, shown in the order it is stored.
 */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (c) => SHORT_ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** `LOG_FORMAT=pretty`: one readable line per entry, for a terminal. Every field is escaped with printable(). */
export function prettyLine(jsonLine: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(jsonLine) as Record<string, unknown>;
  } catch {
    return `${printable(jsonLine.replace(/\n$/, ''))}\n`;
  }
  const { time, level, msg, pid: _pid, hostname: _h, ...rest } = o;
  const t = typeof time === 'number' ? new Date(time).toISOString().slice(11, 23) : '';
  const extras = Object.entries(rest)
    .map(([k, v]) => `${printable(k)}=${printable(typeof v === 'string' ? v : JSON.stringify(v))}`)
    .join(' ');
  const lvl = typeof level === 'string' ? level.toUpperCase() : (LEVEL_NAMES[level as number] ?? String(level));
  return `${t} ${printable(lvl.padEnd(5))} ${printable(String(msg ?? ''))}${extras ? `  ${extras}` : ''}\n`;
}

export interface LogOptions {
  level?: string;
  format?: 'json' | 'pretty';
  base?: Record<string, unknown>;
  /** Where lines go; stdout by default. Tests pass a collector. */
  destination?: { write(line: string): unknown };
}

export function createLogger(opts: LogOptions = {}): Logger {
  const dest = opts.destination ?? process.stdout;
  const pretty = opts.format === 'pretty';
  const stream: DestinationStream = {
    write(line: string) {
      const clean = scrub(line);
      dest.write(pretty ? prettyLine(clean) : clean);
    },
  };
  const options: LoggerOptions = {
    level: opts.level ?? 'info',
    base: { ...(opts.base ?? {}) },
    timestamp: pino.stdTimeFunctions.epochTime,
    redact: { paths: REDACT_PATHS, censor: REDACTED },
    formatters: { level: (label) => ({ level: label }) },
    serializers: { err: serializeError },
  };
  return pino(options, stream);
}

/**
 * pino's error serializer, whose `type` is the error's class name. The bundle renames
 * classes that refer to themselves (`var AccessDeniedException = class _AccessDeniedException`),
 * and the SDK throws errors it has no class for as its service's base class with `name`
 * set to AWS's code (`_IAMServiceException` named `Throttling`). Their `name` is what AWS and
 * the SDK call the error, so `type` says that instead.
 */
export function serializeError(err: Error): ReturnType<typeof pino.stdSerializers.err> {
  const out = pino.stdSerializers.err(err);
  if (out && err instanceof Error && typeof out.type === 'string' && out.type.startsWith('_') && typeof err.name === 'string' && err.name !== '' && err.name !== 'Error') out.type = err.name;
  return out;
}
