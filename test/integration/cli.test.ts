import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { MAIN_JS, REPO_ROOT } from '../helpers/paths.js';

const run = (...args: string[]) => spawnSync(process.execPath, [MAIN_JS, ...args], { encoding: 'utf8', env: { PATH: process.env['PATH'] } });
const pkg = JSON.parse(readFileSync(resolve(REPO_ROOT, 'package.json'), 'utf8')) as { version: string; bin: Record<string, string> };

describe('access-connector CLI', () => {
  test('version prints the package version', () => {
    const r = run('version');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`access-connector ${pkg.version}\n`);
  });
  test('--help for the tool and for each command', () => {
    expect(run('--help').stdout).toMatch(/Commands:\n\s+run/);
    expect(run('run', '--help').stdout).toMatch(/^Usage: access-connector run/);
    expect(run('version', '--help').stdout).toMatch(/^Usage: access-connector version/);
    expect(run('help', 'run').stdout).toMatch(/^Usage: access-connector run/);
  });
  test('an unknown command exits 64', () => {
    const r = run('frobnicate');
    expect(r.status).toBe(64);
    expect(r.stderr).toMatch(/unknown command "frobnicate"/);
  });
  test('the package bin points at the built CLI', () => {
    expect(resolve(REPO_ROOT, pkg.bin['access-connector']!)).toBe(MAIN_JS);
  });
});
