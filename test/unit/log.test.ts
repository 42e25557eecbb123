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
