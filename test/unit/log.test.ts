import { createLogger, prettyLine, registerSecret, scrub } from '../../src/log.js';

function capture() {
  const lines: string[] = [];
  const log = createLogger({ level: 'trace', destination: { write: (l: string) => lines.push(l) } });
  return { log, lines };
}

describe('log redaction', () => {
  test('known secret fields are redacted by path', () => {
    const { log, lines } = capture();
    log.info({ token: 'tok-canary-1', headers: { authorization: 'Bearer tok-canary-2' }, creds: { secretAccessKey: 'sak-canary-3', sessionToken: 'st-canary-4' } }, 'x');
    const out = lines.join('');
    for (const c of ['tok-canary-1', 'tok-canary-2', 'sak-canary-3', 'st-canary-4']) expect(out).not.toContain(c);
    expect(out).toContain('[REDACTED]');
  });

  test('registered secret values are removed wherever they appear, including inside messages and errors', () => {
    registerSecret('zz-registered-canary-"quoted"');
    const { log, lines } = capture();
    log.error({ err: new Error('upstream said zz-registered-canary-"quoted" is bad') }, 'failed with zz-registered-canary-"quoted"');
    expect(lines.join('')).not.toMatch(/zz-registered-canary/);
  });

  test('AWS credential shapes are removed from free text', () => {
    const text = [
      'key AKIAIOSFODNN7EXAMPLE used',
      'temp ASIAXXXXXXXXXXXXXXXX',
      'aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      '"SecretAccessKey":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"',
      'X-Amz-Security-Token: IQoJb3JpZ2luX2VjEXAMPLETOKENVALUE',
      'sessionToken: FwoGZXIvYXdzEXAMPLESESSIONTOKEN',
      'Authorization: Bearer abc.def.ghi',
    ].join('\n');
    const out = scrub(text);
    for (const c of ['AKIAIOSFODNN7EXAMPLE', 'ASIAXXXXXXXXXXXXXXXX', 'wJalrXUtnFEMI', 'IQoJb3JpZ2luX2VjEXAMPLE', 'FwoGZXIvYXdzEXAMPLE', 'abc.def.ghi']) {
      expect(out).not.toContain(c);
    }
  });

  test('pretty format prints one readable line per entry', () => {
    const line = prettyLine(JSON.stringify({ level: 'info', time: 0, msg: 'hello', jobId: 'j1' }));
    expect(line).toBe('00:00:00.000 INFO  hello  jobId=j1\n');
  });
});

// Regression: strings from AWS (user names, tags, descriptions) reached the terminal raw.
describe('untrusted text in log fields', () => {
  const hostile = { userName: 'bob\n00:00:00.000 INFO  fake  event=access.revoked', tags: { 'team\u202e': 'x\u009b31m\u001b]0;title\u0007' }, description: 'a\u2028b\rc' };
  test('pretty output escapes control, bidi and ANSI characters in the message, keys and values', () => {
    const lines: string[] = [];
    const log = createLogger({ format: 'pretty', destination: { write: (l: string) => lines.push(l) } });
    log.info(hostile, 'user\u001b[2K synced\n');
    expect(lines).toHaveLength(1);
    const line = lines[0]!;
    expect(line.endsWith('\n')).toBe(true);
    expect(line.slice(0, -1)).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/);
    expect(line).toContain('INFO  user\\u001b[2K synced\\n  ');
    expect(line).toContain('userName=bob\\n00:00:00.000 INFO  fake');
    expect(line).toContain('team\\u202e');
    expect(line).toContain('x\\u009b31m\\u001b]0;title\\u0007');
    expect(line).toContain('description=a\\u2028b\\rc');
  });

  test('JSON output keeps each entry on one line with the exact text', () => {
    const lines: string[] = [];
    const log = createLogger({ destination: { write: (l: string) => lines.push(l) } });
    log.info(hostile, 'user\u001b[2K synced\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]!.slice(0, -1)).not.toContain('\n');
    expect(JSON.parse(lines[0]!)).toMatchObject({ ...hostile, msg: 'user\u001b[2K synced\n' });
  });
});

describe('errors in log lines', () => {
  test('type is the error as AWS names it, also where the bundle renamed its class', () => {
    // esbuild's output where two modules of a chunk declare the same class name.
    const AccessDeniedException = class _AccessDeniedException extends Error {
      override name = 'AccessDeniedException';
    };
    // An error the SDK has no class for: its service's base class, named by AWS's code.
    const IAMServiceException = class _IAMServiceException extends Error {};
    const unmodeled = new IAMServiceException('Rate exceeded');
    unmodeled.name = 'Throttling';
    class ConnectorFailure extends Error {}
    const { log, lines } = capture();
    log.warn({ err: new AccessDeniedException('no') }, 'a');
    log.warn({ err: unmodeled }, 'u');
    log.warn({ err: new ConnectorFailure('own class, default name') }, 'b');
    log.warn({ err: new TypeError('x') }, 'c');
    const types = lines.map((l) => (JSON.parse(l) as { err: { type: string } }).err.type);
    expect(types).toEqual(['AccessDeniedException', 'Throttling', 'ConnectorFailure', 'TypeError']);
  });
});
