// A Linux "instance" for the connector's own Command document (src/access/documents/local-user.json):
// the real script runs as root, under /bin/sh as the SSM Agent runs it, with the real useradd,
// usermod, userdel, setpriv and pkill, but in a private mount and PID namespace whose /etc,
// /home, /var/lib and /var/mail are this host's own directories under a temporary directory.
// The machine's users, files and processes are never touched: every change lands in those
// directories, and pkill only sees the namespace's processes. Needs root and unshare(1).
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { REPO_ROOT } from './paths.js';

export interface HostRun { code: number; stdout: string; stderr: string }

/** The document's script, as SSM runs it: its runCommand lines joined. */
export function localUserScript(): string {
  const doc = JSON.parse(readFileSync(resolve(REPO_ROOT, 'src/access/documents/local-user.json'), 'utf8')) as { mainSteps: { inputs: { runCommand: string[] } }[] };
  return doc.mainSteps.map((s) => s.inputs.runCommand.join('\n')).join('\n');
}

// Runs inside the new namespaces: the host's directories over the machine's, then the command.
const ENTER = [
  'set -eu',
  'd="$1"; shift',
  'mount --bind "$d/etc" /etc',
  'mount --bind "$d/home" /home',
  'mount --bind "$d/var-lib" /var/lib',
  'if [ -d /var/mail ]; then mount --bind "$d/var-mail" /var/mail; fi',
  'exec "$@"',
].join('\n');

const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export class LinuxHost {
  readonly dir: string;
  private readonly script = localUserScript();

  constructor() {
    if (process.getuid?.() !== 0) throw new Error('these tests run the real document as root in a private mount namespace: run them as root');
    this.dir = mkdtempSync(join(tmpdir(), 'ac-linux-host-'));
    cpSync('/etc', join(this.dir, 'etc'), { recursive: true, verbatimSymlinks: true });
    for (const d of ['home', 'var-lib', 'var-mail']) mkdirSync(join(this.dir, d), { mode: 0o755 });
  }

  /** Runs argv as root inside the host. */
  exec(argv: string[], env: Record<string, string> = {}): HostRun {
    const r = spawnSync('unshare', ['--mount', '--pid', '--fork', '--mount-proc', '--propagation', 'private', '--', '/bin/sh', '-c', ENTER, 'sh', this.dir, 'env', '-i', `PATH=${PATH}`, ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...argv], { encoding: 'utf8', timeout: 60_000 });
    if (r.error) throw r.error;
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  }

  /** A shell command as root inside the host (extra words are $1, $2…). */
  root(cmd: string, ...args: string[]): HostRun {
    return this.exec(['/bin/sh', '-c', cmd, 'sh', ...args]);
  }

  /** A shell command as OS user `user` (no supplementary groups, HOME its home), as a logged-in user would run it. */
  asUser(user: string, cmd: string): HostRun {
    return this.root('h="$(getent passwd "$1" | cut -d: -f6)"; exec setpriv --reuid="$(id -u "$1")" --regid="$(id -g "$1")" --clear-groups -- env HOME="$h" /bin/sh -c "cd \\"\\$HOME\\" && $2"', user, cmd);
  }

  /** The connector's document, with these parameters (as SSM passes them: SSM_<name> variables). */
  document(params: Record<string, string[] | string>): HostRun {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(params)) env[`SSM_${k}`] = Array.isArray(v) ? v[0] ?? '' : v;
    // SSM sets parameters that were not sent to their default ('').
    for (const k of ['accessTag', 'sshPublicKey']) env[`SSM_${k}`] ??= '';
    return this.exec(['/bin/sh', '-c', this.script], env);
  }

  close(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
