import test from 'ava';
import { vaultEndpoint } from '../../../../operator/api/vault-endpoint.js';
import { readiness } from '../../../../operator/controllers/vault/controller.js';
import { mergePatchFor } from '../../../../operator/framework/index.js';
import { aVault } from './builders.js';

const c = (type: string, status: 'True' | 'False') => ({ type, status, reason: 'R', message: `${type} msg` });

test('Ready is True only when Initialized, Unsealed and Configured are', (t) => {
  t.is(readiness([c('Initialized', 'True'), c('Unsealed', 'True'), c('Configured', 'True')]).status, 'True');
  const notReady = readiness([c('Initialized', 'True'), c('Unsealed', 'False'), c('Configured', 'True')]);
  t.is(notReady.status, 'False');
  t.regex(notReady.message, /Unsealed/);
  t.is(readiness([]).reason, 'Pending');
});

test('the status merge patch deletes keys that went away, lists replace', (t) => {
  t.deepEqual(mergePatchFor({ leader: 'a', managed: { policies: ['x'], auth: ['k'] } }, { managed: { auth: [] } }), {
    leader: null,
    managed: { policies: null, auth: [] },
  });
});

test('vaultEndpoint: managed Vaults are reached through the client Service with the TLS Secret CA', (t) => {
  t.deepEqual(vaultEndpoint(aVault()), { address: 'https://vault.vault-ns.svc:8200', caSecretName: 'vault-tls' });
  t.deepEqual(vaultEndpoint(aVault({ external: { address: 'https://v:8200', caSecret: 'ca' } })), { address: 'https://v:8200', caSecretName: 'ca' });
});

test('unexpected failures are told apart: unreachable, refused, Vault error, Kubernetes error', async (t) => {
  const { failureReason } = await import('../../../../operator/controllers/vault/controller.js');
  const { VaultError } = await import('../../../../operator/vault/client.js');
  t.is(failureReason(new VaultError('x', undefined, [], true)), 'VaultUnreachable');
  t.is(failureReason(new VaultError('x', 403, [], false)), 'NotAuthorized');
  t.is(failureReason(new VaultError('x', 503, [], false)), 'VaultRequestFailed');
  t.is(failureReason(Object.assign(new Error('conflict'), { code: 409 })), 'KubernetesError');
});
