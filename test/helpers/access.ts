// Builds the real AccessContext of an integration pointed at the AWS simulator, for
// access-kind tests: the kind talks to the simulator over loopback like in production.
import { ConnectorError } from '../../src/errors.js';
import { makeAccessContext } from '../../src/access/context.js';
import type { AccessContext, AccessKindDef, AccessRequest, Presence } from '../../src/access/types.js';
import type { AwsSimulator } from '../sim/aws/index.js';
import { layerFor } from './sync.js';

export function accessContextFor(sim: AwsSimulator, integration: Record<string, unknown> = {}, opts: { signal?: AbortSignal } = {}): AccessContext & { layer: ReturnType<typeof layerFor> } {
  const layer = layerFor(sim, { ssoRegion: 'us-east-1', ssoPortalUrl: 'https://d-1234567890.awsapps.com/start', ...integration });
  const ctx = makeAccessContext({ session: layer.session, integration: layer.integration, log: layer.logs.log, ...(opts.signal && { signal: opts.signal }) });
  return Object.assign(ctx, { layer });
}

/** The ConnectorError code `p` rejects with (fails the test if it resolves or throws something else). */
export async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ConnectorError) return e.code;
    throw e;
  }
  throw new Error('expected a ConnectorError');
}

/** Every entry point of a kind, each called alone: for refusals that must come before any AWS call. */
export function entryPoints<T>(kind: AccessKindDef<T>, c: AccessContext, r: AccessRequest<T>, before: Presence = { present: false }, kept: Record<string, unknown> = {}): Array<() => Promise<unknown>> {
  return [() => kind.facts(c, r), () => kind.describe(c, r), () => kind.grant(c, r, before), () => kind.revoke(c, r, kept)];
}
