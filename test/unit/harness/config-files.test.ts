// The files the harness writes for the servers: kubeconfig, local-kms seed, Vault config.
import test from 'ava';
import { KubeConfig } from '@kubernetes/client-node';
import yaml from 'js-yaml';
import { adminKubeconfigYaml, ADMIN_USER } from '../../harness/kube-apiserver.js';
import { newSeedKey, seedYaml } from '../../harness/local-kms.js';
import { fileModeConfig } from '../../harness/vault.js';

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

test('the admin kubeconfig loads in client-node with server, CA and token', (t) => {
  const kc = new KubeConfig();
  kc.loadFromString(adminKubeconfigYaml('https://127.0.0.1:6443', PEM, 'tok123'));
  t.is(kc.getCurrentCluster()?.server, 'https://127.0.0.1:6443');
  t.is(Buffer.from(kc.getCurrentCluster()!.caData!, 'base64').toString(), PEM);
  t.is(kc.getCurrentUser()?.name, ADMIN_USER);
  t.is(kc.getCurrentUser()?.token, 'tok123');
});

test('seed keys are random 256-bit keys with distinct ids', (t) => {
  const a = newSeedKey('alias/a');
  const b = newSeedKey('alias/b');
  t.regex(a.backingKey, /^[0-9a-f]{64}$/);
  t.not(a.backingKey, b.backingKey);
  t.not(a.keyId, b.keyId);
});

test('the local-kms seed lists each AES key and its alias', (t) => {
  const keys = [newSeedKey('alias/one'), newSeedKey('alias/two')];
  const seed = yaml.load(seedYaml(keys)) as {
    Keys: { Symmetric: { Aes: { Metadata: { KeyId: string }; BackingKeys: string[] }[] } };
    Aliases: { AliasName: string; TargetKeyId: string }[];
  };
  t.deepEqual(
    seed.Keys.Symmetric.Aes.map((k) => [k.Metadata.KeyId, k.BackingKeys]),
    keys.map((k) => [k.keyId, [k.backingKey]]),
  );
  t.deepEqual(
    seed.Aliases,
    keys.map((k) => ({ AliasName: k.alias, TargetKeyId: k.keyId })),
  );
});

test('the file-mode Vault config listens on loopback without TLS and quotes the path', (t) => {
  const hcl = fileModeConfig('/tmp/a "b"/data', 8200, 8201);
  t.true(hcl.includes('path = "/tmp/a \\"b\\"/data"'));
  t.regex(hcl, /address\s+= "127\.0\.0\.1:8200"/);
  t.regex(hcl, /cluster_address\s+= "127\.0\.0\.1:8201"/);
  t.regex(hcl, /tls_disable\s+= true/);
  t.regex(hcl, /disable_mlock = true/);
});
