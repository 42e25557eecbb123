// The demo (scripts/demo.ts), run as a user runs it: its output explains its figures, and
// it uses colour and bold only on a terminal, never with NO_COLOR.
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { REPO_ROOT } from '../helpers/paths.js';

const DEMO = resolve(REPO_ROOT, 'dist/scripts/demo.js');
// A pseudo-terminal from python3 (a prerequisite of the project): the child sees a TTY.
const IN_PTY = 'import pty, sys; sys.exit(pty.spawn(sys.argv[1:]) >> 8)';

function demo(opts: { tty: boolean; noColor?: string }): { status: number | null; out: string } {
  const env = { PATH: process.env['PATH'] ?? '', HOME: '/nonexistent', ...(opts.noColor !== undefined && { NO_COLOR: opts.noColor }) };
  const r = opts.tty
    ? spawnSync('python3', ['-c', IN_PTY, process.execPath, DEMO], { encoding: 'utf8', env, timeout: 120_000 })
    : spawnSync(process.execPath, [DEMO], { encoding: 'utf8', env, timeout: 120_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('demo', () => {
  test('explains its numbers: the accounts of the world, the management account, the accounts not read and why', () => {
    const { status, out } = demo({ tty: false });
    expect(status).toBe(0);
    expect(out).toContain('its world: 21 AWS accounts. 20 are in the organization: the management account 111111111111, 18 active members and 1 suspended (666666666666 retired). 1 is outside it: 999999999999 connector-host, where the connector runs.');
    expect(out).toContain('accounts read: 19 of the 20 in the organization, the management account 111111111111 included; aws.account lists all 20. Not read: 666666666666 (suspended). Excluded by the integration (excludeAccountIds, excludeOrganizationalUnitIds): none.');
    expect(out).not.toContain('\x1b['); // not a terminal: no colour, no bold
  }, 150_000);

  test('on a terminal: bold headings and coloured PASS; with NO_COLOR set: neither', () => {
    const tty = demo({ tty: true });
    expect(tty.status).toBe(0);
    expect(tty.out).toContain('\x1b[1m== starting the AWS simulator');
    expect(tty.out).toContain('\x1b[32mPASS\x1b[0m');
    const plain = demo({ tty: true, noColor: '1' });
    expect(plain.status).toBe(0);
    expect(plain.out).toContain('== starting the AWS simulator');
    expect(plain.out).not.toContain('\x1b[');
  }, 150_000);
});
