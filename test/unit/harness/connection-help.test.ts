import test from 'ava';
import { connectionHelp } from '../../harness/connection-help.js';
import type { ConnectionInfo } from '../../harness/env.js';

const info: ConnectionInfo = {
  kubeconfigPath: '/tmp/x/kubeconfig',
  apiserverUrl: 'https://127.0.0.1:6443',
  apiserverCaFile: '/tmp/x/pki/apiserver.crt',
  vault: { address: 'http://127.0.0.1:8200', rootToken: 'root-abc' },
  kms: { endpoint: 'http://127.0.0.1:4599', region: 'us-east-1', keyId: 'k1', keyAlias: 'alias/one', otherKeyId: 'k2', otherKeyAlias: 'alias/two' },
};

test('says how to reach each server', (t) => {
  const text = connectionHelp({ info, vaultBinary: '/bin/vault-x', hasKubectl: true, hasAws: true });
  t.true(text.includes('export KUBECONFIG=/tmp/x/kubeconfig'));
  t.true(text.includes('kubectl get namespaces'));
  t.true(text.includes('export VAULT_ADDR=http://127.0.0.1:8200'));
  t.true(text.includes('export VAULT_TOKEN=root-abc'));
  t.true(text.includes('/bin/vault-x status'));
  t.true(text.includes('aws --endpoint-url http://127.0.0.1:4599 --region us-east-1'));
  t.true(text.includes('alias/one'));
});

test('offers curl when kubectl is missing and says so', (t) => {
  const text = connectionHelp({ info, vaultBinary: 'vault', hasKubectl: false, hasAws: false });
  t.false(text.includes('kubectl get'));
  t.regex(text, /kubectl is not installed/);
  t.regex(text, /curl --cacert \/tmp\/x\/pki\/apiserver\.crt/);
  t.regex(text, /AWS CLI is not installed/);
});

test('an uninitialised Vault has no token line', (t) => {
  const text = connectionHelp({ info: { ...info, vault: { address: info.vault.address, rootToken: '' } }, vaultBinary: 'vault', hasKubectl: true, hasAws: true });
  t.false(text.includes('VAULT_TOKEN'));
  t.regex(text, /not initialised/);
});

test('servers that were not started are not mentioned', (t) => {
  const text = connectionHelp({
    info: { ...info, kubeconfigPath: '', kms: { ...info.kms, endpoint: '' } },
    vaultBinary: 'vault',
    hasKubectl: true,
    hasAws: true,
  });
  t.false(text.includes('KUBECONFIG'));
  t.false(text.includes('KMS'));
  t.true(text.includes('VAULT_ADDR'));
});
