// certs.mjs — throwaway X.509 material for TLS tests, made with the `openssl` CLI into a temp dir
// at test time (nothing is checked in, nothing outlives the test: call cleanup()).
//
//   const certs = makeCerts();
//   certs.caFile                       PEM of the test CA: SSL_CERT_FILE / NODE_EXTRA_CA_CERTS
//   certs.ca.cert                      the same PEM as a string (node's `ca` option)
//   certs.leaf      DNS:localhost, IP:127.0.0.1   signed by the CA  — the good server cert
//   certs.nameOnly  DNS:localhost                 signed by the CA  — wrong for https://127.0.0.1
//   certs.ipOnly    IP:127.0.0.1                  signed by the CA  — wrong for https://localhost
//   certs.untrusted DNS:localhost, IP:127.0.0.1   self-signed       — trusted by nobody
//   each pair: { key, cert } (PEM strings, what node:https wants) and { keyFile, certFile }
//
// EC P-256 keys: a full set takes a few hundred ms. Validity starts now and lasts two days, so a
// test box with a sane clock never sees "not yet valid".
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const DAYS = '2';
const KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function openssl(dir, args) {
  try {
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    const why = e.code === 'ENOENT' ? 'openssl CLI not found (scripts/bootstrap installs it)' : `${e.stderr}`;
    throw new Error(`openssl ${args[0]} failed: ${why}`);
  }
}

const serverExt = (san) =>
  [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=serverAuth',
    `subjectAltName=${san}`,
    'subjectKeyIdentifier=hash',
  ].join('\n');

function pair(dir, name) {
  const keyFile = path.join(dir, `${name}.key`);
  const certFile = path.join(dir, `${name}.pem`);
  return { key: readFileSync(keyFile, 'utf8'), cert: readFileSync(certFile, 'utf8'), keyFile, certFile };
}

// A server certificate for san, signed by the CA in dir.
function signed(dir, name, san) {
  writeFileSync(path.join(dir, `${name}.ext`), `${serverExt(san)}\nauthorityKeyIdentifier=keyid,issuer\n`);
  openssl(dir, ['req', '-new', ...KEY, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
  openssl(dir, [
    'x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
    '-days', DAYS, '-sha256', '-extfile', `${name}.ext`, '-out', `${name}.pem`,
  ]);
  return pair(dir, name);
}

// A self-signed server certificate (its own issuer, in no trust store).
function selfSigned(dir, name, san) {
  writeFileSync(path.join(dir, `${name}.cnf`), `[req]\ndistinguished_name=dn\n[dn]\n[ext]\n${serverExt(san)}\n`);
  openssl(dir, [
    'req', '-x509', ...KEY, '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', DAYS, '-sha256',
    '-subj', `/CN=${name}`, '-config', `${name}.cnf`, '-extensions', 'ext',
  ]);
  return pair(dir, name);
}

export function makeCerts() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'omniroute-certs-'));
  try {
    openssl(dir, [
      'req', '-x509', ...KEY, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', DAYS, '-sha256',
      '-subj', '/CN=OmniRoute Test CA', '-addext', 'basicConstraints=critical,CA:TRUE',
      '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    ]);
    return {
      dir,
      caFile: path.join(dir, 'ca.pem'),
      ca: pair(dir, 'ca'),
      leaf: signed(dir, 'leaf', 'DNS:localhost,IP:127.0.0.1'),
      nameOnly: signed(dir, 'name-only', 'DNS:localhost'),
      ipOnly: signed(dir, 'ip-only', 'IP:127.0.0.1'),
      untrusted: selfSigned(dir, 'untrusted', 'DNS:localhost,IP:127.0.0.1'),
      cleanup: () => rmSync(dir, { recursive: true, force: true }),
    };
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}
