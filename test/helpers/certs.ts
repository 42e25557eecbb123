// Test PKI made at test time with the openssl CLI (no private key is committed): a CA,
// a server certificate for localhost/127.0.0.1, a second server certificate from the same
// CA with another key (a "valid certificate but another key" man in the middle), and a
// client certificate for mutual TLS.
import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestPki {
  dir: string;
  caCertPem: string;
  caFile: string;
  server: { keyPem: string; certPem: string; pin: string };
  impostor: { keyPem: string; certPem: string; pin: string };
  client: { keyPem: string; certPem: string; keyFile: string; certFile: string };
  caPin: string;
}

function ossl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: 'pipe' });
}

/** sha256/<base64> of a certificate's SubjectPublicKeyInfo, as CONTROL_PLANE_PINS wants it. */
export function spkiPin(certPem: string): string {
  const der = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('base64');
}

let cached: TestPki | undefined;

export function testPki(): TestPki {
  if (cached) return cached;
  const dir = mkdtempSync(join(tmpdir(), 'ac-pki-'));
  const ext = join(dir, 'san.ext');
  writeFileSync(ext, 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n');
  ossl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=access-connector test CA'], dir);
  for (const name of ['server', 'impostor', 'client']) {
    ossl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name === 'client' ? 'conn-it' : 'localhost'}`], dir);
    ossl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', ext], dir);
  }
  const read = (f: string) => readFileSync(join(dir, f), 'utf8');
  if (!existsSync(join(dir, 'server.pem'))) throw new Error('openssl did not produce the test certificates');
  cached = {
    dir,
    caCertPem: read('ca.pem'),
    caFile: join(dir, 'ca.pem'),
    caPin: spkiPin(read('ca.pem')),
    server: { keyPem: read('server.key'), certPem: read('server.pem'), pin: spkiPin(read('server.pem')) },
    impostor: { keyPem: read('impostor.key'), certPem: read('impostor.pem'), pin: spkiPin(read('impostor.pem')) },
    client: { keyPem: read('client.key'), certPem: read('client.pem'), keyFile: join(dir, 'client.key'), certFile: join(dir, 'client.pem') },
  };
  return cached;
}

/**
 * Two CAs with intermediates, both trusted through one CA file. The real control plane
 * chains root → intermediate → leaf. The other CA issued a valid certificate for the same
 * host to someone else. `forge(key)` makes the certificate such a holder can append to
 * its chain: the other root's subject and key id, any public key it likes (a pinned key
 * is public), signed by a throwaway key since it holds no pinned private key.
 */
export interface ChainPki {
  caFile: string;
  real: { leafKeyPem: string; chainPem: string; pins: { leaf: string; intermediate: string; root: string } };
  other: { leafKeyPem: string; chainPem: string };
  /** The other CA's chain with a forged certificate carrying the public key of `which` appended. */
  forge(which: 'leaf' | 'intermediate' | 'root'): string;
}

let cachedChain: ChainPki | undefined;

export function chainPki(): ChainPki {
  if (cachedChain) return cachedChain;
  const dir = mkdtempSync(join(tmpdir(), 'ac-chain-'));
  const read = (f: string) => readFileSync(join(dir, f), 'utf8');
  writeFileSync(join(dir, 'ca.ext'), 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n');
  writeFileSync(join(dir, 'leaf.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nauthorityKeyIdentifier=keyid:always\n');
  const key = (name: string) => ossl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${name}.key`], dir);
  const issue = (name: string, subj: string, ca: string, ext: string) => {
    key(name);
    ossl(['req', '-new', '-key', `${name}.key`, '-out', `${name}.csr`, '-subj', subj], dir);
    ossl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', ext], dir);
  };
  for (const ca of ['real', 'other']) {
    key(`${ca}-root`);
    ossl(['req', '-x509', '-key', `${ca}-root.key`, '-out', `${ca}-root.pem`, '-days', '2', '-subj', `/CN=${ca} test root`], dir);
    issue(`${ca}-int`, `/CN=${ca} test intermediate`, `${ca}-root`, 'ca.ext');
    issue(`${ca}-leaf`, '/CN=localhost', `${ca}-int`, 'leaf.ext');
  }
  writeFileSync(join(dir, 'roots.pem'), read('real-root.pem') + read('other-root.pem'));
  // The other root's subject key id, which its intermediate names as authority key id.
  const skid = execFileSync('openssl', ['x509', '-in', 'other-root.pem', '-noout', '-ext', 'subjectKeyIdentifier'], { cwd: dir, encoding: 'utf8' })
    .split('\n')[1]!
    .trim();
  key('throwaway');
  const forged = new Map<string, string>();
  for (const which of ['leaf', 'intermediate', 'root'] as const) {
    const src = { leaf: 'real-leaf', intermediate: 'real-int', root: 'real-root' }[which];
    ossl(['x509', '-in', `${src}.pem`, '-pubkey', '-noout', '-out', `${src}.pub`], dir);
    writeFileSync(join(dir, 'forged.ext'), `basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=${skid}\n`);
    ossl(['x509', '-new', '-subj', '/CN=other test root', '-key', 'throwaway.key', '-force_pubkey', `${src}.pub`, '-out', `forged-${which}.pem`, '-days', '2', '-extfile', 'forged.ext'], dir);
    forged.set(which, read(`forged-${which}.pem`));
  }
  const otherChain = read('other-leaf.pem') + read('other-int.pem');
  cachedChain = {
    caFile: join(dir, 'roots.pem'),
    real: {
      leafKeyPem: read('real-leaf.key'),
      chainPem: read('real-leaf.pem') + read('real-int.pem'),
      pins: { leaf: spkiPin(read('real-leaf.pem')), intermediate: spkiPin(read('real-int.pem')), root: spkiPin(read('real-root.pem')) },
    },
    other: { leafKeyPem: read('other-leaf.key'), chainPem: otherChain },
    forge: (which) => otherChain + forged.get(which)!,
  };
  return cachedChain;
}
