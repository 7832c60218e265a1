// The local cluster's own PKI, made fresh for every run with openssl: a CA,
// the apiserver's serving certificate (valid for every name pods and the
// host use), the apiserver's client certificate towards the kubelet, and the
// service-account signing key. Control-plane components authenticate with
// static tokens (cluster-config.ts IDENTITIES), so they need no certificates.
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NET } from './cluster-config.js';

const DAYS = '7';

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Pure: the subjectAltName of the apiserver's serving certificate. */
export function apiserverSans(): string {
  const dns = ['kubernetes', 'kubernetes.default', 'kubernetes.default.svc', `kubernetes.default.svc.${NET.domain}`, 'localhost'];
  const ips = ['127.0.0.1', NET.nodeIP, NET.apiServiceIP];
  return [...dns.map((d) => `DNS:${d}`), ...ips.map((ip) => `IP:${ip}`)].join(',');
}

/** Creates ca.{crt,key}, apiserver.{crt,key}, apiserver-kubelet-client.{crt,key}, sa.{key,pub} in `pki`. */
export function makePki(pki: string): void {
  mkdirSync(pki, { recursive: true, mode: 0o700 });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const tag = randomBytes(3).toString('hex');
  openssl(
    ['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', DAYS, '-subj', `/CN=vault-autopilot-local-ca-${tag}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
    pki,
  );
  const leaf = (name: string, subject: string, extensions: string[]) =>
    openssl(
      ['req', '-x509', ...ec, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', DAYS, '-subj', subject,
        '-CA', 'ca.crt', '-CAkey', 'ca.key', '-addext', 'basicConstraints=critical,CA:FALSE',
        '-addext', 'keyUsage=critical,digitalSignature,keyEncipherment', ...extensions.flatMap((e) => ['-addext', e])],
      pki,
    );
  leaf('apiserver', '/CN=kube-apiserver', ['extendedKeyUsage=serverAuth', `subjectAltName=${apiserverSans()}`]);
  // the kubelet authorises this identity via SubjectAccessReview: system:masters may do everything
  leaf('apiserver-kubelet-client', '/O=system:masters/CN=kube-apiserver-kubelet-client', ['extendedKeyUsage=clientAuth']);
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(join(pki, 'sa.key'), privateKey.export({ type: 'pkcs1', format: 'pem' }), { mode: 0o600 });
  writeFileSync(join(pki, 'sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
}
