// docs/protocol.md, "Signed jobs", against the vectors in test/vectors, through the real dispatcher.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createPrivateKey, sign } from 'node:crypto';
import { canonicalize } from '../../src/protocol/jcs.js';
import { parseJobKeys, signingInput, verifyJobSignature } from '../../src/protocol/signature.js';
import { testConfig } from '../helpers/config.js';
import { controllableHandler, makeDispatcher } from '../helpers/dispatcher.js';
import { REPO_ROOT } from '../helpers/paths.js';

interface Vector {
  frame: Record<string, unknown>;
  connectorId: string;
  now: string;
  expect: string;
  why?: string;
  canonical?: string;
}
interface Vectors {
  publicKeyPem: string;
  privateKeyPem: string;
  keyId: string;
  valid: Vector & { canonical: string };
  invalid: Vector[];
}

const localCopy = resolve(REPO_ROOT, 'test/vectors/job-signing.json');
const vectors = JSON.parse(readFileSync(localCopy, 'utf8')) as Vectors;

function wireParse(frame: unknown): Record<string, unknown> {
  // Vectors are applied as a control plane would send them: serialized, then parsed.
  return JSON.parse(JSON.stringify(frame)) as Record<string, unknown>;
}

function admit(v: Vector) {
  const config = testConfig({ CONNECTOR_ID: v.connectorId, CONTROL_PLANE_JOB_PUBLIC_KEY: vectors.publicKeyPem });
  const { dispatcher, sent } = makeDispatcher(config, [controllableHandler('grant')], () => Date.parse(v.now));
  dispatcher.handle(wireParse(v.frame), 'job');
  return sent;
}

describe('job signature vectors', () => {
  test('the key id is the unpadded base64url SHA-256 of the SPKI DER', () => {
    const [key] = parseJobKeys(vectors.publicKeyPem);
    expect(key!.id).toBe(vectors.keyId);
  });

  test('JCS of the valid frame is exactly the canonical string that was signed', () => {
    expect(signingInput(wireParse(vectors.valid.frame))).toBe(vectors.valid.canonical);
  });

  test('the valid frame is accepted by the dispatcher', () => {
    const sent = admit(vectors.valid);
    expect(sent[0]).toMatchObject({ type: 'job.accepted', jobId: 'job-0001' });
  });

  test.each(vectors.invalid.map((v) => [v.why!, v] as const))('rejected with reason signature: %s', (_why, v) => {
    const keys = parseJobKeys(vectors.publicKeyPem);
    expect(verifyJobSignature(wireParse(v.frame), keys, v.connectorId, Date.parse(v.now)).ok).toBe(false);
    const sent = admit(v);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ type: 'job.rejected', reason: 'signature', jobId: 'job-0001' });
  });

  test('an unknown keyId is rejected even when another key would verify', () => {
    const frame = { ...wireParse(vectors.valid.frame), keyId: 'not-a-configured-key' };
    const sent = admit({ ...vectors.valid, frame });
    expect(sent[0]).toMatchObject({ type: 'job.rejected', reason: 'signature' });
  });

  test('a frame signed now with the vector key passes, and fails after one unknown field is added', () => {
    const priv = createPrivateKey(vectors.privateKeyPem);
    const frame: Record<string, unknown> = { ...wireParse(vectors.valid.frame), jobId: 'job-fresh' };
    delete frame['signature'];
    frame['signature'] = sign(null, Buffer.from(canonicalize({ ...frame, signature: undefined, id: undefined })), priv).toString('base64');
    expect(admit({ ...vectors.valid, frame })[0]).toMatchObject({ type: 'job.accepted', jobId: 'job-fresh' });
    const tampered = { ...frame, extra: 'unsigned' };
    expect(admit({ ...vectors.valid, frame: tampered })[0]).toMatchObject({ type: 'job.rejected', reason: 'signature' });
  });
});

describe('JCS (RFC 8785)', () => {
  test('sorts members by UTF-16 code units and serializes numbers as ECMAScript does', () => {
    expect(canonicalize({ b: 1, a: [1e21, 1.5, -0, 0.1], '\u20ac': 'x', '\ud83d\ude00': 'y', c: null })).toBe(
      '{"a":[1e+21,1.5,0,0.1],"b":1,"c":null,"\u20ac":"x","\ud83d\ude00":"y"}',
    );
  });
  test('escapes only what JSON requires', () => {
    expect(canonicalize({ s: 'é\n"\u0001' })).toBe('{"s":"é\\n\\"\\u0001"}');
  });
});
