// A real pino logger (with the production scrubber) that keeps its lines for assertions.
import { createLogger, type Logger } from '../../src/log.js';

export interface CapturedLog {
  log: Logger;
  lines: string[];
  entries(): Array<Record<string, unknown>>;
}

export function captureLog(level = 'debug'): CapturedLog {
  const lines: string[] = [];
  const log = createLogger({ level, destination: { write: (l: string) => lines.push(l) } });
  return {
    log,
    lines,
    entries: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}
