// Shared set-up for the simulator's tests: real SDK clients pointed at the simulator.
import { STSClient, AssumeRoleCommand } from '@aws-sdk/client-sts';
import type { AwsSimulator } from '../sim/aws/index.js';

export type Creds = { accessKeyId: string; secretAccessKey: string; sessionToken?: string };

/** Client options: the simulator's endpoint, no retries (so tests see every error). */
export function cfg(sim: AwsSimulator, creds: Creds = sim.credentials, region = 'us-east-1') {
  return { endpoint: sim.url, region, credentials: creds, maxAttempts: 1 };
}

export async function assume(sim: AwsSimulator, creds: Creds, roleArn: string, externalId?: string, sessionName = 'sim-test', region = 'us-east-1'): Promise<Creds> {
  const sts = new STSClient(cfg(sim, creds, region));
  const r = await sts.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: sessionName, ...(externalId ? { ExternalId: externalId } : {}) }));
  return { accessKeyId: r.Credentials!.AccessKeyId!, secretAccessKey: r.Credentials!.SecretAccessKey!, sessionToken: r.Credentials!.SessionToken! };
}

export const MGMT = '111111111111';
export const mgmtRoleArn = (account = MGMT) => `arn:aws:iam::${account}:role/AccessConnectorManagement`;
export const memberRoleArn = (account: string) => `arn:aws:iam::${account}:role/AccessConnectorMember`;

/** Credentials of the management role (base identity → AccessConnectorManagement). */
export function management(sim: AwsSimulator): Promise<Creds> {
  return assume(sim, sim.credentials, mgmtRoleArn(), sim.world.connector.externalId);
}
/** Credentials of the member role in `account` (second hop). */
export async function member(sim: AwsSimulator, account: string, mgmt?: Creds): Promise<Creds> {
  return assume(sim, mgmt ?? (await management(sim)), memberRoleArn(account));
}

/** The error a promise rejects with (fails the test if it resolves). */
export async function failure(p: Promise<unknown>): Promise<Error & { name: string; $metadata?: { httpStatusCode?: number } }> {
  try {
    await p;
  } catch (e) {
    return e as Error & { name: string };
  }
  throw new Error('expected the call to fail');
}
