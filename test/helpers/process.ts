// Runs the real connector as a child process and reads its JSON log lines.
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { REPO_ROOT } from './paths.js';

export const ENTRY_JS = resolve(REPO_ROOT, 'dist/test/helpers/connector-entry.js');

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  at: number;
}

export class ConnectorProcess {
  readonly child: ChildProcess;
  readonly stdout: string[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<Exit>;
  private waiters: Array<{ pred: (e: Record<string, unknown>) => boolean; resolve: (e: Record<string, unknown>) => void }> = [];
  private partial = '';

  constructor(env: Record<string, string>, opts: { entry?: string; args?: string[]; nodeArgs?: string[] } = {}) {
    this.child = spawn(process.execPath, [...(opts.nodeArgs ?? []), opts.entry ?? ENTRY_JS, ...(opts.args ?? ['run'])], {
      env: { PATH: process.env['PATH'] ?? '', HEALTH_PORT: '0', HEALTH_HOST: '127.0.0.1', LOG_LEVEL: 'debug', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => this.onStdout(chunk));
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => this.stderr.push(chunk));
    this.exited = new Promise((res) => this.child.once('exit', (code, signal) => res({ code, signal, at: Date.now() })));
  }

  private onStdout(chunk: string): void {
    this.partial += chunk;
    const lines = this.partial.split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line) continue;
      this.stdout.push(line);
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      this.waiters = this.waiters.filter((w) => {
        if (!w.pred(entry)) return true;
        w.resolve(entry);
        return false;
      });
    }
  }

  logs(): Array<Record<string, unknown>> {
    return this.stdout.flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
  }

  /**
   * Resolves with the first log entry (past or future) matching `pred`. 20 s by default:
   * many callers wait for a line of a connector just spawned, whose start (module loading,
   * TLS, AWS clients) takes several seconds on a loaded machine; only a failure waits this long.
   */
  waitForLog(pred: (e: Record<string, unknown>) => boolean, timeoutMs = 20_000): Promise<Record<string, unknown>> {
    const found = this.logs().find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no matching log line within ${timeoutMs} ms; last lines:\n${this.stdout.slice(-8).join('\n')}\n${this.stderr.join('')}`)), timeoutMs);
      this.waiters.push({
        pred,
        resolve: (e) => {
          clearTimeout(t);
          resolve(e);
        },
      });
    });
  }

  waitForEvent(event: string, timeoutMs?: number): Promise<Record<string, unknown>> {
    return this.waitForLog((e) => e['event'] === event, timeoutMs);
  }

  async healthUrl(): Promise<string> {
    const start = await this.waitForEvent('daemon.start');
    return `http://127.0.0.1:${String(start['healthPort'])}`;
  }

  signal(sig: NodeJS.Signals): void {
    this.child.kill(sig);
  }

  async stop(): Promise<Exit> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    return this.exited;
  }

  /** Everything the process wrote, for secret scans. */
  output(): string {
    return this.stdout.join('\n') + this.partial + this.stderr.join('');
  }
}

export function connectorEnv(cpUrl: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    CONNECTOR_ID: 'conn-it',
    CONTROL_PLANE_URL: cpUrl,
    ALLOW_INSECURE_CONTROL_PLANE: 'true',
    CONNECTOR_TOKEN: 'test-token',
    ...extra,
  };
}
