// The SHA-256 the AWS SDK clients sign requests with (their `sha256` option), in place of
// the SDK's own Node implementation, which it matches but for one thing: an HMAC key given
// as bytes is made into a KeyObject once and kept with the bytes.
//
// Why: SigV4 signs every request with an HMAC keyed by the day's signing key, which the SDK
// derives once and caches (a Uint8Array). Node's createHmac() prepares a key given as bytes
// on every call, and in Node 24 that costs about 14 µs against 3 µs for a KeyObject (on the
// bench machine). A CPU profile of a 1,000-account sync put 2.6 % of the connector's CPU in
// that preparation alone (docs/performance.md, "Signing, and the same machine slower").
import { createHash, createHmac, createSecretKey, type Hash, type Hmac, type KeyObject } from 'node:crypto';

type SourceData = string | ArrayBuffer | ArrayBufferView;

/**
 * KeyObjects of the byte keys seen, with a copy of their bytes, kept as long as the SDK keeps
 * the key (its cache of signing keys). A hit is used only while the bytes are still the
 * same: a key changed in place gets a KeyObject of its new bytes.
 */
const keyObjects = new WeakMap<ArrayBufferView, { bytes: Buffer; key: KeyObject }>();

function keyObjectOf(secret: ArrayBuffer | ArrayBufferView): KeyObject | Buffer {
  // An ArrayBuffer may be the pool behind many small Buffers: used as it is, not kept.
  if (!ArrayBuffer.isView(secret)) return Buffer.from(new Uint8Array(secret));
  const now = secret instanceof Uint8Array ? secret : new Uint8Array(secret.buffer, secret.byteOffset, secret.byteLength);
  const seen = keyObjects.get(secret);
  if (seen && seen.bytes.equals(now)) return seen.key;
  const key = createSecretKey(now);
  keyObjects.set(secret, { bytes: Buffer.from(now), key });
  return key;
}

/** The SDK's Checksum interface: a hash, or an HMAC when constructed with a secret. */
export class Sha256 {
  readonly digestLength = 32;
  private hash: Hash | Hmac;
  private finished = false;

  constructor(private readonly secret?: SourceData) {
    this.hash = this.make();
  }

  update(data: SourceData): void {
    if (this.finished) throw new Error('Attempted to update an already finished hash.');
    // Strings (UTF-8) and views as they are; a bare ArrayBuffer through a view of it.
    this.hash.update(typeof data === 'string' ? data : ArrayBuffer.isView(data) ? (data as NodeJS.ArrayBufferView) : new Uint8Array(data));
  }

  async digest(): Promise<Uint8Array> {
    let buf: Buffer;
    if (this.secret) {
      this.finished = true;
      buf = (this.hash as Hmac).digest();
    } else {
      // A plain hash can be read and updated again, as the SDK's can.
      buf = (this.hash as Hash).copy().digest();
    }
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  reset(): void {
    this.hash = this.make();
    this.finished = false;
  }

  private make(): Hash | Hmac {
    const s = this.secret;
    if (!s) return createHash('sha256');
    // A string key (the SDK's first step, keyed by the secret access key) is fast as it is.
    if (typeof s === 'string') return createHmac('sha256', s);
    return createHmac('sha256', s.byteLength > 0 ? keyObjectOf(s) : Buffer.alloc(0));
  }
}
