import { backoffDelay, DEFAULT_TIMING } from '../../src/daemon/connection.js';
import { bypassesProxy } from '../../src/daemon/dialer.js';

describe('reconnect backoff (docs/protocol.md "Connecting")', () => {
  test('full jitter: uniform below min(cap, 1 s · 2^(n-1))', () => {
    expect(backoffDelay(1, DEFAULT_TIMING, () => 0.999999)).toBe(999);
    expect(backoffDelay(3, DEFAULT_TIMING, () => 0.5)).toBe(2000);
    expect(backoffDelay(7, DEFAULT_TIMING, () => 0.999999)).toBe(59_999);
    expect(backoffDelay(50, DEFAULT_TIMING, () => 0.999999)).toBe(59_999);
    expect(backoffDelay(5, DEFAULT_TIMING, () => 0)).toBe(0);
  });

  test('over many draws the delays fill the whole jitter range', () => {
    const draws = Array.from({ length: 2000 }, () => backoffDelay(4, DEFAULT_TIMING, Math.random));
    expect(Math.min(...draws)).toBeLessThan(400);
    expect(Math.max(...draws)).toBeGreaterThan(7600);
    expect(Math.max(...draws)).toBeLessThan(8000);
  });
});

describe('NO_PROXY matching', () => {
  test.each([
    ['cp.example.com', '443', ['cp.example.com'], true],
    ['cp.example.com', '443', ['.example.com'], true],
    ['cp.example.com', '443', ['*.example.com'], true],
    ['example.com', '443', ['.example.com'], true],
    ['cp.example.com', '443', ['example.org'], false],
    ['cp.example.com', '443', ['cp.example.com:8443'], false],
    ['cp.example.com', '8443', ['cp.example.com:8443'], true],
    ['anything', '443', ['*'], true],
    ['badexample.com', '443', ['.example.com'], false],
  ])('%s:%s with %j → %s', (host, port, list, expected) => {
    expect(bypassesProxy(host, port, list)).toBe(expected);
  });
});
