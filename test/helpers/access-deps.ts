// The runner's dependencies for access tests: a fresh "process" (its own AWS runtime and
// ledger client on the simulator's DynamoDB), on the test's clock. The real modules, only
// pointed at loopback.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Ledger, type LedgerOptions } from '../../src/access/ledger.js';
import { accessParamsSchema } from '../../src/access/params.js';
import type { AccessDeps } from '../../src/access/run-access.js';
import type { AccessRequest } from '../../src/access/types.js';
import type { Integration } from '../../src/protocol/messages.js';
import { AwsRuntime } from '../../src/aws/runtime.js';
import type { Config } from '../../src/config.js';
import type { Logger } from '../../src/log.js';
import { declaredActions } from '../../src/permissions.js';
import { testConfig } from './config.js';

export const TEST_LEDGER_TABLE = 'access-connector-ledger';

export interface TestDepsOptions {
  /** Every runtime made is pushed here, so the test's afterAll can destroy them. */
  runtimes: AwsRuntime[];
  log: Logger;
  now: () => number;
  config?: Partial<Config>;
  ledger?: Partial<LedgerOptions>;
  /** SDK attempts per call: 2 makes a fault on every attempt final soon. */
  maxAttempts?: number;
}

export function testAccessDeps(o: TestDepsOptions): AccessDeps {
  const aws = new AwsRuntime({ declaredActions: declaredActions(), connectorId: 'conn-test', log: o.log, quotaShare: 1, ...(o.maxAttempts !== undefined && { maxAttempts: o.maxAttempts }) });
  o.runtimes.push(aws);
  const client = aws.clients.get(DynamoDBClient, { region: 'us-east-1', accountId: 'self', credentials: aws.broker('us-east-1').base() });
  const ledger = new Ledger({ client, table: TEST_LEDGER_TABLE, owner: `test-${o.runtimes.length}`, now: o.now, ...o.ledger });
  return { aws, ledger, config: { ...testConfig(), ...o.config } as Config, log: o.log, now: o.now };
}

/** A grant or revoke job of `request` (parsed as the job's params are), with `expiresAt` when given. */
export function testAccessJob<T>(d: AccessDeps, integration: Integration, request: AccessRequest<T>, expiresAt?: string) {
  return { jobId: `job-${Math.random()}`, integration, request: accessParamsSchema.parse({ ...request, ...(expiresAt && { expiresAt }) }), signal: new AbortController().signal, log: d.log };
}
