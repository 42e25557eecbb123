// Signed jobs (docs/protocol.md "Delivery"): Ed25519 over the JCS form of the received `job` frame
// without its `id` and `signature` members. Unknown fields are included on purpose: a
// control plane cannot add an unsigned field that a later connector version would act on.
import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { canonicalize } from './jcs.js';

export interface JobKey {
  /** Unpadded base64url SHA-256 of the SPKI DER. */
  id: string;
  key: KeyObject;
}

/** Max distance of a signed job's `notAfter` in the future (docs/protocol.md "Delivery"), plus the ±30 s skew. */
export const SIGNED_JOB_MAX_AHEAD_MS = 15 * 60 * 1000;
export const CLOCK_SKEW_MS = 30 * 1000;

/** Parses one or more PEM public keys; throws if any is not Ed25519. */
export function parseJobKeys(pem: string): JobKey[] {
  const blocks = pem.match(/-----BEGIN PUBLIC KEY-----[\s\S]+?-----END PUBLIC KEY-----/g) ?? [];
  if (blocks.length === 0) throw new Error('no "-----BEGIN PUBLIC KEY-----" block found');
  return blocks.map((block) => {
    const key = createPublicKey(block);
    if (key.asymmetricKeyType !== 'ed25519') {
      throw new Error(`key type is ${key.asymmetricKeyType ?? 'unknown'}, expected ed25519`);
    }
    const der = key.export({ type: 'spki', format: 'der' });
    return { id: createHash('sha256').update(der).digest('base64url'), key };
  });
}

/** The exact bytes that are signed: JCS of the frame without `id` and `signature`. */
export function signingInput(rawFrame: Record<string, unknown>): string {
  const { id: _id, signature: _sig, ...rest } = rawFrame;
  return canonicalize(rest);
}

export type SignatureVerdict = { ok: true; keyId: string } | { ok: false; why: string };

/**
 * Checks a raw job frame (as parsed from the wire) against the configured keys.
 * The caller has already validated the frame's schema.
 */
export function verifyJobSignature(
  rawFrame: Record<string, unknown>,
  keys: readonly JobKey[],
  connectorId: string,
  nowMs: number,
): SignatureVerdict {
  const signature = rawFrame['signature'];
  if (typeof signature !== 'string' || signature.length === 0) return { ok: false, why: 'signature missing' };
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(signature)) return { ok: false, why: 'signature is not standard base64' };
  const sig = Buffer.from(signature, 'base64');
  if (sig.length !== 64) return { ok: false, why: 'signature is not 64 bytes' };
  if (rawFrame['connectorId'] !== connectorId) {
    return { ok: false, why: 'signed job is not addressed to this connector (connectorId)' };
  }
  const notAfter = Date.parse(String(rawFrame['notAfter']));
  if (!Number.isFinite(notAfter) || notAfter - nowMs > SIGNED_JOB_MAX_AHEAD_MS + CLOCK_SKEW_MS) {
    return { ok: false, why: 'signed job notAfter is more than 15 minutes ahead' };
  }
  const keyId = rawFrame['keyId'];
  const candidates = typeof keyId === 'string' ? keys.filter((k) => k.id === keyId) : keys;
  if (candidates.length === 0) return { ok: false, why: 'keyId names no configured key' };
  let input: Buffer;
  try {
    input = Buffer.from(signingInput(rawFrame), 'utf8');
  } catch {
    // JSON.parse turns 1e400 into Infinity, which JCS cannot represent: no signature can cover it.
    return { ok: false, why: 'frame holds a value canonical JSON (RFC 8785) cannot represent' };
  }
  for (const k of candidates) {
    if (verify(null, input, k.key, sig)) return { ok: true, keyId: k.id };
  }
  return { ok: false, why: 'signature does not verify' };
}
