import test from 'ava';
import { KmsVaultSecretReason } from '../../../../operator/api/kmsvaultsecret.js';
import { chooseVault, loginFailure, recordedChoice, vaultServes, vaultTrusted, vaultUsable, VAULT_WAIT_RETRY_MS, withMountHint } from '../../../../operator/controllers/kmsvaultsecret/vault-target.js';
import { KMS_POLICY_NAME, KMS_ROLE_ID } from '../../../../operator/controllers/vault/kms-identity.js';
import { VaultError } from '../../../../operator/vault/client.js';
import { aVault } from '../vault/builders.js';
import { aKmsVaultSecret } from './builders.js';

const DEFAULT = { namespace: 'vault-system', name: 'vault' };
const ready = { type: 'Ready', status: 'True' as const, reason: 'Ready', message: 'ok', lastTransitionTime: '2026-01-01T00:00:00Z' };

test('chooseVault: spec.vaultRef, then the configured connection, then the default Vault', (t) => {
  t.deepEqual(chooseVault(aKmsVaultSecret({ vaultRef: { name: 'v', namespace: 'ops' } }), true, DEFAULT), { kind: 'resource', ref: { name: 'v', namespace: 'ops' } });
  t.deepEqual(chooseVault(aKmsVaultSecret({ vaultRef: { name: 'v' } }), false, DEFAULT), { kind: 'resource', ref: { name: 'v', namespace: 'team-a' } }, "namespace defaults to the object's");
  t.deepEqual(chooseVault(aKmsVaultSecret(), true, DEFAULT), { kind: 'connection' });
  t.deepEqual(chooseVault(aKmsVaultSecret(), false, DEFAULT), { kind: 'resource', ref: DEFAULT });
});

test('recordedChoice: a deletion cleans up where status says it wrote', (t) => {
  const now = { kind: 'resource' as const, ref: DEFAULT };
  const obj = aKmsVaultSecret();
  t.deepEqual(recordedChoice(obj, now), now);
  obj.status = { vault: 'ops/other' };
  t.deepEqual(recordedChoice(obj, now), { kind: 'resource', ref: { namespace: 'ops', name: 'other' } });
  obj.status = { vault: 'https://vault.example.com:8200' };
  t.deepEqual(recordedChoice(obj, now), { kind: 'connection' });
});

test('vaultUsable: missing, not Ready, no KMS login -> a condition that says what to do, retried soon', (t) => {
  const missing = vaultUsable(DEFAULT, undefined)!;
  t.is(missing.reason, KmsVaultSecretReason.VaultNotFound);
  t.regex(missing.message, /vault-system\/vault does not exist/);
  t.is(missing.retryAfterMs, VAULT_WAIT_RETRY_MS);

  const pending = aVault({}, 'vault', 'vault-system');
  pending.status = { conditions: [{ ...ready, status: 'False', reason: 'NotReady', message: 'Unsealed: sealed: vault-1' }] };
  const notReady = vaultUsable(DEFAULT, pending)!;
  t.is(notReady.reason, KmsVaultSecretReason.VaultNotReady);
  t.regex(notReady.message, /NotReady: Unsealed: sealed: vault-1/);
  t.regex(vaultUsable(DEFAULT, aVault({}, 'vault', 'vault-system'))!.message, /no status yet/);

  const noIdentity = aVault({}, 'vault', 'vault-system');
  noIdentity.status = { conditions: [ready], managed: { roles: [] } };
  const identity = vaultUsable(DEFAULT, noIdentity)!;
  t.is(identity.reason, KmsVaultSecretReason.VaultIdentityMissing);
  t.regex(identity.message, /VAULT_AUTOPILOT_OPERATOR_SERVICE_ACCOUNT/);

  const good = aVault({}, 'vault', 'vault-system');
  good.status = { conditions: [ready], managed: { roles: [KMS_ROLE_ID], policies: [KMS_POLICY_NAME] } };
  t.is(vaultUsable(DEFAULT, good), undefined);
  const deleting = { ...good, metadata: { ...good.metadata, deletionTimestamp: new Date() } };
  t.regex(vaultUsable(DEFAULT, deleting)!.message, /is being deleted/);
});

test('withMountHint: only through a Vault resource, which limits the login to its declared KV mounts', (t) => {
  const f = { reason: KmsVaultSecretReason.MountMismatch, message: 'no secrets engine serves path "kv/team-a/x"', transient: false };
  t.regex(withMountHint(f, 'vault-system/vault', undefined).message, /through Vault vault-system\/vault, KMSVaultSecrets may write only the KV mounts its spec.externalConfig.secrets declares$/);
  t.is(withMountHint(f, 'https://vault:8200', 'https://vault:8200'), f);
});

test('loginFailure: unreachable vs refused; the JWT never appears', (t) => {
  const down = loginFailure('vault-system/vault', new VaultError('connect ECONNREFUSED', undefined, [], true));
  t.is(down.reason, KmsVaultSecretReason.VaultUnreachable);
  t.true(down.transient);
  const refused = loginFailure('vault-system/vault', new VaultError('permission denied', 403, ['permission denied'], false));
  t.is(refused.reason, KmsVaultSecretReason.VaultLoginFailed);
  t.regex(refused.message, /role kms-vault-secrets at auth\/vault-autopilot: permission denied/);
});

test('vaultTrusted: the operator JWT goes to a managed Vault, or to an allowed external address the Vault controller pinned', (t) => {
  const trust = { allowed: ['https://vault.corp:8200'], allowHttp: false };
  const managed = aVault();
  t.is(vaultTrusted(DEFAULT, managed, trust), undefined);
  const ext = (address: string, pinned?: string) => {
    const v = aVault();
    v.spec.external = { address };
    if (pinned) v.status = { externalAddress: pinned };
    return v;
  };
  t.is(vaultTrusted(DEFAULT, ext('https://vault.corp:8200', 'https://vault.corp:8200'), trust), undefined);
  const notListed = vaultTrusted(DEFAULT, ext('https://evil.example:8200', 'https://evil.example:8200'), trust)!;
  t.is(notListed.reason, KmsVaultSecretReason.VaultNotTrusted);
  t.regex(notListed.message, /^Vault vault-system\/vault: spec.external.address https:\/\/evil.example:8200 is not an external Vault/);
  t.is(vaultTrusted(DEFAULT, ext('https://vault.corp:8200', 'https://other.corp:8200'), { allowed: ['https://*.corp:8200'], allowHttp: false })!.reason, KmsVaultSecretReason.VaultNotTrusted);
  // allowed but not adopted yet by the Vault controller (a Ready status from before a spec change): wait
  const notPinned = vaultTrusted(DEFAULT, ext('https://vault.corp:8200'), trust)!;
  t.is(notPinned.reason, KmsVaultSecretReason.VaultNotReady);
  t.is(notPinned.retryAfterMs, VAULT_WAIT_RETRY_MS);
});

test('vaultServes: a Vault serves its own namespace, others only by All or a matching selector; the refusal says what to change', (t) => {
  const own = aVault({}, 'vault', 'vault-system');
  t.is(vaultServes(own, 'vault-system', {}), undefined);
  const refused = vaultServes(own, 'team-a', {})!;
  t.is(refused.reason, KmsVaultSecretReason.SelfServiceRefused);
  t.is(refused.retryAfterMs, VAULT_WAIT_RETRY_MS, 'waits for the Vault: an edit of its selfService syncs the object at once');
  t.regex(refused.message, /^Vault vault-system\/vault does not serve namespace team-a: it admits only its own namespace \(spec\.selfService\.namespaces\.from: Same, the default\)\. Nothing was written: .*point spec\.vaultRef at a Vault that serves it; will retry$/);
  t.is(vaultServes(aVault({ selfService: { namespaces: { from: 'All' } } }, 'vault', 'vault-system'), 'team-a', {}), undefined);
  const bySelector = aVault({ selfService: { namespaces: { from: 'Selector', selector: { matchLabels: { team: 'a' } } } } }, 'vault', 'vault-system');
  t.is(vaultServes(bySelector, 'team-a', { team: 'a' }), undefined);
  t.regex(vaultServes(bySelector, 'team-b', { team: 'b' })!.message, /its spec\.selfService\.namespaces\.selector does not match this namespace/);
});
