import { readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../helpers/paths.js';
import { jobFrame } from '../../src/protocol/messages.js';
import { parseJobKeys, signingInput, verifyJobSignature } from '../../src/protocol/signature.js';
import { ReferenceControlPlane } from '../sim/control-plane/server.js';
import { FakeConnector } from './client.js';

interface Vectors {
  publicKeyPem: string;
  privateKeyPem: string;
  keyId: string;
  valid: { frame: Record<string, unknown>; canonical: string; connectorId: string };
}
const vectors = JSON.parse(
  readFileSync(path.resolve(REPO_ROOT, 'test/vectors/job-signing.json'), 'utf8'),
) as Vectors;
const isJob = (f: Record<string, unknown>) => f['type'] === 'job';

describe('reference control plane: signed jobs', () => {
  let cp: ReferenceControlPlane;
  let c: FakeConnector;
  beforeEach(async () => {
    cp = await ReferenceControlPlane.start({ signingKey: { privateKeyPem: vectors.privateKeyPem } });
    c = await FakeConnector.welcomed(cp, 'conn-signed');
  });
  afterEach(async () => {
    c.close();
    await cp.close();
  });

  it('signs a job that the connector-side verifier accepts with the vector public key', async () => {
    expect(cp.keyId).toBe(vectors.keyId);
    const { jobId } = cp.sendJob({ jobType: 'grant', params: { grantId: 'g-1' } });
    // Verify the frame as the connector receives it off the wire, not our in-memory copy.
    const received = await c.next(isJob);
    expect(jobFrame.safeParse(received).success).toBe(true);
    expect(received).toMatchObject({ jobId, connectorId: 'conn-signed', keyId: vectors.keyId });
    const keys = parseJobKeys(vectors.publicKeyPem);
    expect(verifyJobSignature(received, keys, 'conn-signed', Date.now())).toEqual({ ok: true, keyId: vectors.keyId });
    // notAfter is 14 minutes ahead: inside the 15-minute limit for signed jobs.
    const ahead = Date.parse(String(received['notAfter'])) - Date.now();
    expect(ahead).toBeGreaterThan(13 * 60_000);
    expect(ahead).toBeLessThanOrEqual(14 * 60_000);
    // The same frame fails for another connector and after any signed field changes.
    expect(verifyJobSignature(received, keys, 'conn-other', Date.now()).ok).toBe(false);
    expect(verifyJobSignature({ ...received, attempt: 2 }, keys, 'conn-signed', Date.now()).ok).toBe(false);
  });

  it('reproduces the vector signature byte for byte (Ed25519 is deterministic)', async () => {
    const { signature: _s, ...unsigned } = vectors.valid.frame;
    const sent = cp.sendJob(unsigned as { jobType: string }, { raw: true, sign: true });
    expect(signingInput(sent.frame)).toBe(vectors.valid.canonical);
    expect(sent.frame['signature']).toBe(vectors.valid.frame['signature']);
  });

  it('keeps a redelivered signed job valid: only the unsigned id changes', async () => {
    const { jobId } = cp.sendJob({ jobType: 'grant' });
    const first = await c.next(isJob);
    c.close();
    const c2 = await FakeConnector.welcomed(cp, 'conn-signed');
    const again = await c2.next(isJob);
    expect(again['jobId']).toBe(jobId);
    expect(again['id']).not.toBe(first['id']);
    expect(verifyJobSignature(again, parseJobKeys(vectors.publicKeyPem), 'conn-signed', Date.now()).ok).toBe(true);
    c2.close();
  });

  it('sends unsigned when told sign: false', async () => {
    cp.sendJob({ jobType: 'check' }, { sign: false });
    const received = await c.next(isJob);
    expect(received['signature']).toBeUndefined();
    expect(received['keyId']).toBeUndefined();
  });
});
