// Regression: text from the control plane (or AWS) printed raw by LOG_FORMAT=pretty could
// end the line and forge another one (newline, ANSI and bidi control characters).
import { ReferenceControlPlane } from '../sim/control-plane/server.js';
import { ConnectorProcess, connectorEnv } from '../helpers/process.js';

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

// A forged "access revoked" line: newline, carriage return, ANSI erase/colour, a C1 CSI,
// bidi override and isolate, Unicode line and paragraph separators, a NUL and a DEL.
const HOSTILE =
  'fine\n12:00:00.000 INFO  grant revoked  event=access.revoked grantId=g-1\r\u001b[2K\u001b[32mOK\u001b[0m \u009b31m \u202egnikcah\u202c \u2066x\u2069 \u2028next\u2029para \u0000nul \u007fdel \u200fmark \u061calm';
const UNSAFE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

async function until(test: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('an error frame carrying a forged log line: pretty output escapes it, JSON output keeps it in one field', async () => {
  const cp = await ReferenceControlPlane.start();
  cleanup.push(() => cp.close());
  const run = (format: string) => {
    const p = new ConnectorProcess(connectorEnv(cp.url, { CONNECTOR_ID: `conn-${format}`, LOG_FORMAT: format }));
    cleanup.push(() => p.stop());
    return p;
  };
  const pretty = run('pretty');
  const json = run('json');
  for (const connectorId of ['conn-pretty', 'conn-json']) {
    // 20 s: the connector process was just spawned; its start is slow on a loaded machine.
    const s = await cp.waitForSession(20_000, (x) => x.connectorId === connectorId);
    cp.sendRaw(JSON.stringify({ type: 'error', id: `e-${connectorId}`, code: 'BAD\u001b[31m\nREQUEST', message: HOSTILE }), { sessionId: s.sessionId });
  }
  await until(() => pretty.output().includes('control plane reported an error'), 'the pretty error line');
  await until(() => json.logs().some((e) => e['event'] === 'control_plane.error'), 'the JSON error line');
  await new Promise((r) => setTimeout(r, 200)); // let the rest of the pretty line be flushed

  // Pretty: every line is one entry that starts with its own time and level; nothing
  // unsafe reaches the terminal; the text is still there, escaped.
  const lines = pretty.stdout;
  for (const line of lines) expect(line).toMatch(/^\d\d:\d\d:\d\d\.\d{3} (TRACE|DEBUG|INFO |WARN |ERROR|FATAL) /);
  expect(lines.filter((l) => l.includes('access.revoked'))).toHaveLength(1);
  const errorLine = lines.find((l) => l.includes('control plane reported an error'))!;
  expect(errorLine).toMatch(/^\S+ WARN  control plane reported an error: fine\\n12:00:00\.000 INFO  grant revoked  event=access\.revoked/);
  expect(errorLine).toContain('\\u001b[2K');
  expect(errorLine).toContain('\\u202e');
  expect(errorLine).toContain('peerCode=BAD\\u001b[31m\\nREQUEST');
  expect(pretty.output()).not.toMatch(UNSAFE);

  // JSON: one parseable object per line, holding the exact text.
  for (const line of json.stdout) expect(() => JSON.parse(line)).not.toThrow();
  const entry = json.logs().find((e) => e['event'] === 'control_plane.error')!;
  expect(entry['msg']).toBe(`control plane reported an error: ${HOSTILE.slice(0, 300)}`);
  expect(entry['peerCode']).toBe('BAD\u001b[31m\nREQUEST');
  expect(json.stdout.filter((l) => l.includes('access.revoked'))).toHaveLength(1);
});
