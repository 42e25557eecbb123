import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXIT_CONFIG, loadConfig, readToken, SETTINGS } from '../../src/config.js';
import { MAIN_JS } from '../helpers/paths.js';

const base = {
  CONNECTOR_ID: 'conn-1',
  CONTROL_PLANE_URL: 'wss://cp.example.com/v1/connect',
  CONNECTOR_TOKEN: 'tok-abc',
};
const dir = mkdtempSync(join(tmpdir(), 'ac-config-'));

function errorOf(env: Record<string, string | undefined>): string {
  try {
    loadConfig(env);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected a configuration error');
}

describe('configuration', () => {
  test('defaults are filled and the result is frozen', () => {
    const c = loadConfig(base);
    expect(c).toMatchObject({ maxConcurrentJobs: 4, shutdownGraceSeconds: 25, healthPort: 8080, logLevel: 'info', logFormat: 'json', pins: [] });
    expect(Object.isFrozen(c)).toBe(true);
  });

  test.each([
    [{ CONNECTOR_ID: undefined }, /^CONNECTOR_ID: is required/],
    [{ CONNECTOR_ID: 'bad id!' }, /^CONNECTOR_ID: must be/],
    [{ CONTROL_PLANE_URL: undefined }, /^CONTROL_PLANE_URL: is required/],
    [{ CONTROL_PLANE_URL: 'http://cp.example.com' }, /^CONTROL_PLANE_URL: must start with wss:\/\//],
    [{ CONTROL_PLANE_URL: 'ws://cp.example.com' }, /^CONTROL_PLANE_URL: ws:\/\/ is allowed only/],
    [{ CONTROL_PLANE_URL: 'ws://10.0.0.1', ALLOW_INSECURE_CONTROL_PLANE: 'true' }, /^CONTROL_PLANE_URL: ws:\/\/ is allowed only/],
    [{ CONTROL_PLANE_URL: 'ws://127.0.0.1:1' }, /ALLOW_INSECURE_CONTROL_PLANE=true/],
    [{ CONTROL_PLANE_URL: 'wss://user:pw@cp.example.com' }, /must not hold credentials/],
    [{ CONNECTOR_TOKEN: undefined }, /^CONNECTOR_TOKEN_FILE: is required/],
    [{ CONNECTOR_TOKEN_FILE: '/nonexistent/token' }, /^CONNECTOR_TOKEN: set either/],
    [{ CONNECTOR_TOKEN: undefined, CONNECTOR_TOKEN_FILE: '/nonexistent/token' }, /^CONNECTOR_TOKEN_FILE: cannot read the file/],
    [{ MAX_CONCURRENT_JOBS: '0' }, /^MAX_CONCURRENT_JOBS: must be a whole number from 1 to 64/],
    [{ MAX_CONCURRENT_JOBS: 'four' }, /^MAX_CONCURRENT_JOBS:/],
    [{ SHUTDOWN_GRACE_SECONDS: '-1' }, /^SHUTDOWN_GRACE_SECONDS:/],
    [{ HEALTH_PORT: '70000' }, /^HEALTH_PORT:/],
    [{ LOG_LEVEL: 'verbose' }, /^LOG_LEVEL:/],
    [{ LOG_FORMAT: 'xml' }, /^LOG_FORMAT:/],
    [{ ALLOW_INSECURE_CONTROL_PLANE: 'yes' }, /^ALLOW_INSECURE_CONTROL_PLANE: must be true or false/],
    [{ CONTROL_PLANE_PINS: 'sha1/abc' }, /^CONTROL_PLANE_PINS:/],
    [{ CONTROL_PLANE_CLIENT_CERT_FILE: '/x.pem' }, /go together/],
    [{ CONTROL_PLANE_CA_FILE: '/nonexistent/ca.pem' }, /^CONTROL_PLANE_CA_FILE: cannot read/],
    [{ CONTROL_PLANE_JOB_PUBLIC_KEY: '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----' }, /^CONTROL_PLANE_JOB_PUBLIC_KEY:/],
    [{ HTTPS_PROXY: 'socks5://proxy:1080' }, /^HTTPS_PROXY: must be an http:\/\//],
    [{ AWS_REGION: 'mars' }, /^AWS_REGION:/],
    [{ CONNECTOR_POLICY_FILE: '/nonexistent/policy.yaml' }, /^CONNECTOR_POLICY_FILE: no file/],
  ])('%j is refused with a message naming the variable', (over, re) => {
    expect(errorOf({ ...base, ...over })).toMatch(re);
  });

  test('ws:// to loopback is allowed only with the explicit switch', () => {
    expect(loadConfig({ ...base, CONTROL_PLANE_URL: 'ws://127.0.0.1:1/x', ALLOW_INSECURE_CONTROL_PLANE: 'true' }).controlPlaneUrl.host).toBe('127.0.0.1:1');
    expect(loadConfig({ ...base, CONTROL_PLANE_URL: 'ws://[::1]:1/x', ALLOW_INSECURE_CONTROL_PLANE: 'true' }).controlPlaneUrl.hostname).toBe('[::1]');
  });

  test('pins, proxy (lower case too) and NO_PROXY are parsed', () => {
    const pin = Buffer.alloc(32, 7).toString('base64');
    const c = loadConfig({ ...base, CONTROL_PLANE_PINS: `sha256/${pin}, sha256/${pin}`, https_proxy: 'http://proxy.internal:3128', no_proxy: 'A.example.com,.svc' });
    expect(c.pins).toEqual([pin, pin]);
    expect(c.proxy?.host).toBe('proxy.internal:3128');
    expect(c.noProxy).toEqual(['a.example.com', '.svc']);
  });

  test('the token file is re-read on every call', () => {
    const f = join(dir, 'token');
    writeFileSync(f, 'first-token\n');
    const c = loadConfig({ ...base, CONNECTOR_TOKEN: undefined, CONNECTOR_TOKEN_FILE: f });
    expect(readToken(c.token)).toBe('first-token');
    writeFileSync(f, 'second-token');
    expect(readToken(c.token)).toBe('second-token');
  });

  test('a token with spaces is refused without echoing it', () => {
    const msg = errorOf({ ...base, CONNECTOR_TOKEN: 'canary secret value' });
    expect(msg).toMatch(/^CONNECTOR_TOKEN: must be printable ASCII/);
    expect(msg).not.toContain('canary');
  });

  test('a policy file with an unknown key stops start-up, naming the field', () => {
    const f = join(dir, 'policy.yaml');
    writeFileSync(f, 'version: 1\nreadonly: true\n');
    expect(errorOf({ ...base, CONNECTOR_POLICY_FILE: f })).toMatch(/^CONNECTOR_POLICY_FILE: .*policy\.yaml: line 2, column 1: \(top level\): Unrecognized key: "readonly"$/);
  });

  test('a valid YAML policy file is loaded with defaults', () => {
    const f = join(dir, 'policy-ok.yaml');
    writeFileSync(f, 'version: 1\nreadOnly: true\naccounts:\n  deny: ["111111111111"]\n');
    const c = loadConfig({ ...base, CONNECTOR_POLICY_FILE: f });
    expect(c.policy).toMatchObject({ readOnly: true, accounts: { deny: ['111111111111'] }, roles: { deny: [] } });
  });

  test('every setting is documented in docs/configuration.md', async () => {
    const { readFileSync } = await import('node:fs');
    const { resolve } = await import('node:path');
    const { REPO_ROOT } = await import('../helpers/paths.js');
    const doc = readFileSync(resolve(REPO_ROOT, 'docs/configuration.md'), 'utf8');
    for (const s of SETTINGS) expect(doc).toContain(`\`${s.name}\``);
  });

  test('the process exits 78 with one line naming the variable, never the secret', () => {
    const r = spawnSync(process.execPath, [MAIN_JS, 'run'], {
      env: { PATH: process.env['PATH'], CONNECTOR_ID: 'c', CONTROL_PLANE_URL: 'http://x', CONNECTOR_TOKEN: 'canary-9f8e7d' },
      encoding: 'utf8',
    });
    expect(r.status).toBe(EXIT_CONFIG);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/CONTROL_PLANE_URL/);
    expect(r.stderr + r.stdout).not.toContain('canary-9f8e7d');
  });
});
