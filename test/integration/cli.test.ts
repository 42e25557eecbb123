import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { resolve } from 'node:path';
import { MAIN_JS, REPO_ROOT } from '../helpers/paths.js';
import { COMMAND_FLAGS } from '../../src/commands/args.js';
import { EXIT, EXIT_CODES } from '../../src/exit-codes.js';

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
  test('--version and -V print the version', () => {
    for (const flag of ['--version', '-V']) {
      const r = run(flag);
      expect({ status: r.status, stdout: r.stdout }).toEqual({ status: 0, stdout: `access-connector ${pkg.version}\n` });
    }
  });

  // Everything the daemon needs is set, so a mistake that fell through to `run` would start
  // it (and outlive the timeout) instead of exiting 64.
  const daemonEnv = {
    PATH: process.env['PATH'] ?? '', HOME: '/nonexistent', CONNECTOR_ID: 'cli-test', CONTROL_PLANE_URL: 'ws://127.0.0.1:9/v1/connect',
    ALLOW_INSECURE_CONTROL_PLANE: 'true', CONNECTOR_TOKEN: 'cli-test-token', HEALTH_PORT: '0', HEALTH_HOST: '127.0.0.1',
  };
  test.each([
    [['frobnicate'], /unknown command "frobnicate"/, 'Usage: access-connector [command]'],
    [['help', 'frobnicate'], /no help for "frobnicate"/, 'Usage: access-connector [command]'],
    [['--bogus'], /unknown option --bogus/, 'Usage: access-connector [command]'],
    [['--bogus', 'run'], /unknown option --bogus/, 'Usage: access-connector [command]'],
    [['run', '--bogus'], /run takes no option --bogus/, 'Usage: access-connector run'],
    [['run', 'now'], /run takes no argument "now"/, 'Usage: access-connector run'],
    [['version', '--bogus'], /version takes no option --bogus/, 'Usage: access-connector version'],
    [['healthcheck', '--port', '1'], /healthcheck takes no option --port/, 'Usage: access-connector healthcheck'],
    [['doctor', '--bogus'], /unknown option --bogus/, 'Usage: access-connector doctor'],
    [['sync', '--integration'], /--integration needs a value/, 'Usage: access-connector sync'],
    [['grant', '--expired'], /unknown option --expired/, 'Usage: access-connector grant'],
    [['revoke', '--all'], /add --yes/, 'Usage: access-connector revoke'],
    [['ledger', 'frobnicate'], /unknown subcommand "frobnicate"/, 'Usage: access-connector ledger'],
  ])('%j exits 64 with the reason and the usage, and starts nothing', (args, reason, usage) => {
    const r = spawnSync(process.execPath, [MAIN_JS, ...args], { encoding: 'utf8', env: daemonEnv, timeout: 20_000 });
    expect(r.status).toBe(EXIT.USAGE);
    expect(r.stderr).toMatch(reason);
    expect(r.stderr).toContain(usage);
    expect(r.stdout).toBe(''); // no daemon log line
  });

  test.each(Object.entries(COMMAND_FLAGS))('every option of %s has a line of its own in its --help', (command, flags) => {
    const help = run(command, '--help');
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(new RegExp(`^Usage: access-connector ${command}`));
    for (const flag of Object.keys(flags)) expect(help.stdout).toMatch(new RegExp(`^ {2}--${flag}\\b`, 'm'));
  });

  test('--help lists the one table of exit codes, and refers to no document outside the repository', () => {
    const help = run('--help').stdout;
    for (const e of Object.values(EXIT_CODES)) expect(help).toMatch(new RegExp(`^ +${e.code}  \\S`, 'm'));
    expect(EXIT).toMatchObject({ OK: 0, USAGE: 64, CONFIG: 78 });
    for (const command of ['main', ...Object.keys(COMMAND_FLAGS)]) {
      const text = command === 'main' ? help : run('help', command).stdout;
      expect(text).not.toMatch(/§|shared\//);
    }
  });

  test('scripts/dev puts access-connector on PATH', () => {
    const r = spawnSync('bash', [resolve(REPO_ROOT, 'scripts/dev'), 'bash', '-c', 'command -v access-connector && access-connector --version'], { encoding: 'utf8', env: { PATH: process.env['PATH'], HOME: '/nonexistent' } });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`${resolve(REPO_ROOT, 'scripts/bin/access-connector')}\naccess-connector ${pkg.version}\n`);
    expect(r.status).toBe(0);
  });

  test('a policy file with several problems: all of them at once, each with line and column; exit 78', () => {
    const dir = mkdtempSync(resolve(tmpdir(), 'ac-cli-'));
    const policy = resolve(dir, 'policy.yaml');
    writeFileSync(policy, 'version: 1\nreadOnly: yes please\nbogus: 3\nalsoBogus: 4\n');
    const r = spawnSync(process.execPath, [MAIN_JS, 'run'], { encoding: 'utf8', env: { ...daemonEnv, CONNECTOR_POLICY_FILE: policy }, timeout: 20_000 });
    expect(r.status).toBe(EXIT.CONFIG);
    expect(r.stderr).toBe([
      `access-connector: configuration error: CONNECTOR_POLICY_FILE: ${policy}: 3 problems:`,
      '  line 2, column 11: readOnly: Invalid input: expected boolean, received string',
      '  line 3, column 1: (top level): Unrecognized key: "bogus"',
      '  line 4, column 1: (top level): Unrecognized key: "alsoBogus"',
      '',
    ].join('\n'));
    const json = resolve(dir, 'policy.json');
    writeFileSync(json, '{"version": 1,\n "readOnly": true,,\n}');
    const j = spawnSync(process.execPath, [MAIN_JS, 'run'], { encoding: 'utf8', env: { ...daemonEnv, CONNECTOR_POLICY_FILE: json }, timeout: 20_000 });
    expect(j.status).toBe(EXIT.CONFIG);
    expect(j.stderr).toMatch(/policy\.json: not valid JSON or YAML: line 2, column 19: .+\n$/);
  });

  test('params and integration files: every problem with line and column, JSON errors whole; exit 64', () => {
    const dir = mkdtempSync(resolve(tmpdir(), 'ac-cli-'));
    const integration = resolve(dir, 'integration.json');
    writeFileSync(integration, JSON.stringify({ id: 'i', name: 'n', type: 'aws-organization', region: 'us-east-1', roleArn: 'arn:aws:iam::111111111111:role/R' }));
    const params = resolve(dir, 'params.json');
    writeFileSync(params, '{"grantId": "g1",\n "accessKind": "nope",\n "principal": 3}\n');
    const env = { ...daemonEnv, LEDGER_TABLE: 'cli-ledger', AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL: 'http://127.0.0.1:9', AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'example' };
    const r = spawnSync(process.execPath, [MAIN_JS, 'grant', '--integration', integration, '--params', params], { encoding: 'utf8', env, timeout: 20_000 });
    expect(r.status).toBe(EXIT.USAGE);
    expect(r.stderr).toContain(`params file ${params}: 3 problems:\n  line 2, column 16: accessKind: Invalid option`);
    expect(r.stderr).toContain('\n  line 3, column 15: principal: Invalid input: expected object, received number\n');
    expect(r.stderr).toContain('\n  line 1, column 1: target: ');
    const broken = resolve(dir, 'broken.json');
    writeFileSync(broken, '{"grantId": "g1",\n "accessKind": "nope",,\n}');
    const b = spawnSync(process.execPath, [MAIN_JS, 'grant', '--integration', broken, '--params', params], { encoding: 'utf8', env, timeout: 20_000 });
    expect(b.status).toBe(EXIT.USAGE);
    expect(b.stderr).toMatch(/integration file .*broken\.json: not valid JSON: .* \(line 2 column 23\)\n/);
  });

  test('the package bin points at the built CLI', () => {
    expect(resolve(REPO_ROOT, pkg.bin['access-connector']!)).toBe(MAIN_JS);
  });
});
