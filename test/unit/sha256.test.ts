// src/aws/sha256.ts signs every AWS request the connector makes: it must give the bytes
// Node's own hash and HMAC give, whatever form the SDK hands it the data and key in, and a
// whole SigV4 signature made with it must equal the one the SDK makes with its own.
import { createHash, createHmac } from 'node:crypto';
import { createRequire } from 'node:module';
import { SignatureV4, clearCredentialCache } from '@smithy/signature-v4';
import { Sha256 } from '../../src/aws/sha256.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

test('hashes as node:crypto does, and a hash can be read and updated again', async () => {
  const h = new Sha256();
  h.update('hello ');
  expect(hex(await h.digest())).toBe(createHash('sha256').update('hello ').digest('hex'));
  h.update(new TextEncoder().encode('world'));
  expect(hex(await h.digest())).toBe(createHash('sha256').update('hello world').digest('hex'));
  h.reset();
  h.update(new Uint8Array([1, 2, 3]).buffer);
  // Views: only their own bytes.
  const backing = new Uint8Array([9, 4, 5, 9, 6, 9]);
  h.update(backing.subarray(1, 3));
  h.update(new DataView(backing.buffer, 4, 1));
  expect(hex(await h.digest())).toBe(createHash('sha256').update(Buffer.from([1, 2, 3, 4, 5, 6])).digest('hex'));
});

test('HMACs as node:crypto does with a string key, byte keys in every view, and an empty key', async () => {
  const data = 'AWS4-HMAC-SHA256\n20261207T000000Z';
  const raw = Buffer.from('0123456789abcdef0123456789abcdef', 'hex');
  const expected = createHmac('sha256', raw).update(data).digest('hex');
  // A view on a larger buffer: only its own bytes are the key.
  const backing = new Uint8Array(raw.length + 8).fill(0xee);
  backing.set(raw, 4);
  for (const key of [new Uint8Array(raw), raw, backing.subarray(4, 4 + raw.length), new DataView(backing.buffer, 4, raw.length), new Uint8Array(raw).buffer]) {
    const h = new Sha256(key);
    h.update(data);
    expect(hex(await h.digest())).toBe(expected);
  }
  const s = new Sha256('a string key é');
  s.update(data);
  expect(hex(await s.digest())).toBe(createHmac('sha256', 'a string key é').update(data).digest('hex'));
  const empty = new Sha256(new Uint8Array(0));
  empty.update(data);
  expect(hex(await empty.digest())).toBe(createHmac('sha256', Buffer.alloc(0)).update(data).digest('hex'));
});

test('the same key bytes reused (the SDK\'s cached signing key) keep giving the right HMAC; other keys, or the same bytes changed, give theirs', async () => {
  const k1 = new Uint8Array(32).fill(1);
  const k2 = new Uint8Array(32).fill(2);
  for (const [key, data] of [[k1, 'a'], [k2, 'a'], [k1, 'b'], [k2, 'b']] as const) {
    const h = new Sha256(key);
    h.update(data);
    expect(hex(await h.digest())).toBe(createHmac('sha256', Buffer.from(key)).update(data).digest('hex'));
  }
  // Changed in place after use: the HMAC of the new bytes, not of a kept key.
  k1.fill(3);
  const changed = new Sha256(k1);
  changed.update('a');
  expect(hex(await changed.digest())).toBe(createHmac('sha256', Buffer.alloc(32, 3)).update('a').digest('hex'));
  // After reset, an HMAC starts again with the same key.
  changed.reset();
  changed.update('b');
  expect(hex(await changed.digest())).toBe(createHmac('sha256', Buffer.alloc(32, 3)).update('b').digest('hex'));
  const done = new Sha256(k1);
  await done.digest();
  expect(() => done.update('more')).toThrow('already finished');
});

test('derives the signing key of AWS\'s published SigV4 example', async () => {
  // docs.aws.amazon.com, "Examples of how to derive a signing key for Signature Version 4".
  const hmac = async (key: string | Uint8Array, data: string) => {
    const h = new Sha256(key);
    h.update(data);
    return h.digest();
  };
  let key: string | Uint8Array = 'AWS4wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
  for (const part of ['20120215', 'us-east-1', 'iam', 'aws4_request']) key = await hmac(key, part);
  expect(hex(key as Uint8Array)).toBe('f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d');
});

test('a request signed with it carries the signature the SDK\'s own implementation gives', async () => {
  const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', sessionToken: 'token' };
  const request = () => ({
    method: 'POST',
    protocol: 'https:',
    hostname: 'iam.amazonaws.com',
    path: '/',
    query: {},
    headers: { host: 'iam.amazonaws.com', 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
    body: 'Action=ListUsers&Version=2010-05-08',
  });
  const signingDate = new Date('2026-12-07T10:00:00Z');
  const sdkDefault = (await import('@smithy/core/checksum')).Sha256;
  const sign = async (sha256: unknown) => {
    // The SDK caches signing keys for the module, whichever hash made them: each side derives its own.
    clearCredentialCache();
    const signer = new SignatureV4({ credentials, region: 'us-east-1', service: 'iam', sha256: sha256 as never });
    // Twice: the second request is signed with the signing key the first one cached.
    await signer.sign(request() as never, { signingDate });
    return ((await signer.sign(request() as never, { signingDate })) as unknown as { headers: Record<string, string> }).headers['authorization'];
  };
  const ours = await sign(Sha256);
  expect(ours).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/20261207\/us-east-1\/iam\/aws4_request, SignedHeaders=.*, Signature=[0-9a-f]{64}$/);
  expect(ours).toBe(await sign(sdkDefault));
});

test('the SDK\'s clients and this test use the one copy of the signer and its hash', () => {
  // The devDependencies pin the versions the clients resolve; an upgrade that split them
  // would compare against a signer the connector does not use.
  const fromClient = createRequire(createRequire(import.meta.url).resolve('@aws-sdk/client-iam'));
  const here = createRequire(import.meta.url);
  for (const pkg of ['@smithy/core/package.json', '@smithy/signature-v4/package.json']) expect(fromClient.resolve(pkg)).toBe(here.resolve(pkg));
});
