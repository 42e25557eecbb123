// Builds a real Config through loadConfig (the same parser production uses).
import { loadConfig, type Config } from '../../src/config.js';

export function testConfig(overrides: Record<string, string | undefined> = {}): Config {
  return loadConfig(
    {
      CONNECTOR_ID: 'conn-test',
      CONTROL_PLANE_URL: 'ws://127.0.0.1:9/v1/connect',
      ALLOW_INSECURE_CONTROL_PLANE: 'true',
      CONNECTOR_TOKEN: 'test-token',
      HEALTH_PORT: '0',
      HEALTH_HOST: '127.0.0.1',
      ...overrides,
    },
    { daemon: true },
  );
}
