// Builds the real AccessContext of an integration pointed at the AWS simulator, for
// access-kind tests: the kind talks to the simulator over loopback like in production.
import { makeAccessContext } from '../../src/access/context.js';
import type { AccessContext } from '../../src/access/types.js';
import type { AwsSimulator } from '../sim/aws/index.js';
import { layerFor } from './sync.js';

export function accessContextFor(sim: AwsSimulator, integration: Record<string, unknown> = {}, opts: { signal?: AbortSignal } = {}): AccessContext & { layer: ReturnType<typeof layerFor> } {
  const layer = layerFor(sim, { ssoRegion: 'us-east-1', ssoPortalUrl: 'https://d-1234567890.awsapps.com/start', ...integration });
  const ctx = makeAccessContext({ session: layer.session, integration: layer.integration, log: layer.logs.log, ...(opts.signal && { signal: opts.signal }) });
  return Object.assign(ctx, { layer });
}
