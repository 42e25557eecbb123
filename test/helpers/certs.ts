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
