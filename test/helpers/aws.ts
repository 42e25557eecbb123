// Points the real AWS layer at a loopback AWS endpoint (the simulator or moto): the SDK
// reads AWS_ENDPOINT_URL and the base credentials from the environment, as in production
// it reads the container's credentials.
import { AwsClients, type AwsMetricsSink } from '../../src/aws/clients.js';
import { CredentialBroker } from '../../src/aws/credentials.js';
import { IntegrationSession } from '../../src/aws/session.js';
import { integrationSchema, type Integration } from '../../src/protocol/messages.js';
import { captureLog } from './log.js';
import { declaredActions } from '../../src/permissions.js';

const AWS_ENV_KEYS = ['AWS_ENDPOINT_URL', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_REGION', 'AWS_EC2_METADATA_DISABLED', 'AWS_PROFILE'];

/** Replaces the AWS part of process.env for the duration of a test file. */
export function useAwsEnv(env: Record<string, string>): () => void {
  const saved = Object.fromEntries(AWS_ENV_KEYS.map((k) => [k, process.env[k]]));
  for (const k of AWS_ENV_KEYS) delete process.env[k];
  Object.assign(process.env, { AWS_EC2_METADATA_DISABLED: 'true' }, env);
  return () => {
    for (const k of AWS_ENV_KEYS) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  };
}

const made: AwsClients[] = [];

/** Closes the sockets of every client made by awsLayer() (call in afterAll). */
export function destroyAwsLayers(): void {
  for (const c of made.splice(0)) c.destroy();
}

export function awsLayer(integration: Partial<Integration> & Record<string, unknown>, opts: { quotaShare?: number; metrics?: AwsMetricsSink } = {}) {
  const logs = captureLog('debug');
  const clients = new AwsClients({ declaredActions: declaredActions(), userAgent: 'access-connector/test', quotaShare: opts.quotaShare ?? 1, log: logs.log, ...(opts.metrics && { metrics: opts.metrics }), maxAttempts: 8 });
  made.push(clients);
  const parsed = integrationSchema.parse({ id: 'int-test', name: 'test', type: 'aws-organization', region: 'us-east-1', ...integration });
  const broker = new CredentialBroker({ clients, connectorId: 'conn-test', log: logs.log, region: parsed.region });
  const session = new IntegrationSession(parsed, clients, broker);
  return { clients, broker, session, logs, integration: parsed };
}
