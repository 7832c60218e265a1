import test from 'ava';
import type { KubernetesObject, V1Secret } from '@kubernetes/client-node';
import type { VaultResource } from '../../../../operator/api/vault.js';
import {
  NO_EXTERNAL_VAULTS,
  TOKEN_SECRET_LABEL,
  TrustReason,
  UNSEAL_KEYS_LABEL,
  addressChangeDecision,
  authDelegatorDecision,
  describeTrust,
  externalAddressDecision,
  keysSecretDecision,
  parseExternalVaultTrust,
  takeoverDecision,
  tokenSecretDecision,
  unsealKeyContexts,
  vaultTrustDecision,
  type Decision,
} from '../../../../operator/controllers/vault/trust.js';

const UID = 'uid-1';
const vault = (spec: VaultResource['spec'] = {}, status?: VaultResource['status']): VaultResource => ({
  metadata: { name: 'v', namespace: 'team-a', uid: UID },
  spec,
  ...(status ? { status } : {}),
});
const allow = (...allowed: string[]) => ({ allowed, allowHttp: false });
const reasonOf = (d: Decision) => (d.ok ? 'ok' : d.reason);

test('settings: patterns and the http opt-out come from the environment; default is none', (t) => {
  t.deepEqual(parseExternalVaultTrust({}), NO_EXTERNAL_VAULTS);
  t.deepEqual(parseExternalVaultTrust({ VAULT_AUTOPILOT_EXTERNAL_VAULT_ADDRESSES: 'https://vault.corp:8200, https://*.vault.corp:*' }), {
    allowed: ['https://vault.corp:8200', 'https://*.vault.corp:*'],
    allowHttp: false,
  });
  t.true(parseExternalVaultTrust({ VAULT_AUTOPILOT_EXTERNAL_VAULT_ALLOW_HTTP: 'true' }).allowHttp);
  const err = t.throws(() => parseExternalVaultTrust({ VAULT_AUTOPILOT_EXTERNAL_VAULT_ADDRESSES: 'vault.corp, https://x/path', VAULT_AUTOPILOT_EXTERNAL_VAULT_ALLOW_HTTP: 'yes' }));
  t.regex(err!.message, /"vault\.corp" is not scheme:\/\/host/);
  t.regex(err!.message, /"https:\/\/x\/path" is not/);
  t.regex(err!.message, /ALLOW_HTTP must be true or false/);
});

test('describeTrust says what is allowed and flags http', (t) => {
  t.regex(describeTrust(NO_EXTERNAL_VAULTS).message, /none \(only Vaults the operator deploys\)/);
  const d = describeTrust({ allowed: ['http://127.0.0.1:*'], allowHttp: true });
  t.true(d.insecure);
  t.regex(d.message, /IN CLEAR/);
});

test('by default no external address is trusted, and the message names the setting', (t) => {
  const d = externalAddressDecision('https://vault.corp:8200', NO_EXTERNAL_VAULTS);
  t.is(reasonOf(d), TrustReason.ExternalAddressNotAllowed);
  t.regex((d as { message: string }).message, /VAULT_AUTOPILOT_EXTERNAL_VAULT_ADDRESSES: none/);
});

test('exact host and port', (t) => {
  const trust = allow('https://vault.corp:8200');
  t.true(externalAddressDecision('https://vault.corp:8200', trust).ok);
  t.true(externalAddressDecision('https://VAULT.corp:8200/', trust).ok);
  t.is(reasonOf(externalAddressDecision('https://vault.corp:8201', trust)), TrustReason.ExternalAddressNotAllowed);
  t.is(reasonOf(externalAddressDecision('https://vault.corp', trust)), TrustReason.ExternalAddressNotAllowed);
  t.is(reasonOf(externalAddressDecision('https://evil.vault.corp:8200', trust)), TrustReason.ExternalAddressNotAllowed);
  t.is(reasonOf(externalAddressDecision('https://vault.corp.evil.com:8200', trust)), TrustReason.ExternalAddressNotAllowed);
});

test('no port in the pattern means the default port', (t) => {
  const trust = allow('https://vault.corp');
  t.true(externalAddressDecision('https://vault.corp', trust).ok);
  t.true(externalAddressDecision('https://vault.corp:443', trust).ok);
  t.false(externalAddressDecision('https://vault.corp:8200', trust).ok);
});

test('wildcard host: one or more labels under the suffix, never the suffix itself or a look-alike', (t) => {
  const trust = allow('https://*.vault.corp:*');
  t.true(externalAddressDecision('https://a.vault.corp:8200', trust).ok);
  t.true(externalAddressDecision('https://a.b.vault.corp', trust).ok);
  t.false(externalAddressDecision('https://vault.corp:8200', trust).ok);
  t.false(externalAddressDecision('https://avault.corp:8200', trust).ok);
  t.false(externalAddressDecision('https://a.vault.corp.evil:8200', trust).ok);
});

test('http is refused even when listed, unless the operator opted out', (t) => {
  const d = externalAddressDecision('http://127.0.0.1:8200', allow('http://127.0.0.1:*'));
  t.is(reasonOf(d), TrustReason.InsecureAddress);
  t.regex((d as { message: string }).message, /in clear.*VAULT_AUTOPILOT_EXTERNAL_VAULT_ALLOW_HTTP=true/);
  t.true(externalAddressDecision('http://127.0.0.1:8200', { allowed: ['http://127.0.0.1:*'], allowHttp: true }).ok);
  // the opt-out allows http, it does not widen the list
  t.is(reasonOf(externalAddressDecision('http://10.88.0.9:8200', { allowed: ['http://127.0.0.1:*'], allowHttp: true })), TrustReason.ExternalAddressNotAllowed);
  // an https pattern does not admit http
  t.is(reasonOf(externalAddressDecision('http://vault.corp:8200', { allowed: ['https://vault.corp:8200'], allowHttp: true })), TrustReason.ExternalAddressNotAllowed);
});

test('user info, paths, queries and other schemes are refused', (t) => {
  const trust = allow('https://vault.corp:*');
  for (const address of ['https://user:pw@vault.corp:8200', 'https://vault.corp:8200/v1', 'https://vault.corp:8200?x=1', 'https://vault.corp:8200#a', 'ftp://vault.corp', 'not a url']) {
    t.is(reasonOf(externalAddressDecision(address, trust)), TrustReason.ExternalAddressNotAllowed, address);
  }
});

test('a pinned address that changed is refused; the message says how an admin moves it', (t) => {
  const moved = vault({ external: { address: 'https://b.vault.corp' } }, { externalAddress: 'https://a.vault.corp' });
  const d = addressChangeDecision(moved);
  t.is(reasonOf(d), TrustReason.AddressChanged);
  t.regex((d as { message: string }).message, /from https:\/\/a\.vault\.corp to https:\/\/b\.vault\.corp/);
  t.regex((d as { message: string }).message, /--subresource=status/);
  t.true(addressChangeDecision(vault({ external: { address: 'https://a.vault.corp' } }, { externalAddress: 'https://a.vault.corp' })).ok);
  t.true(addressChangeDecision(vault({ external: { address: 'https://a.vault.corp' } })).ok);
  // both allowed by the list: the pin still refuses
  t.is(reasonOf(vaultTrustDecision(moved, allow('https://*.vault.corp'))), TrustReason.AddressChanged);
  // not allowed at all says that first
  t.is(reasonOf(vaultTrustDecision(moved, NO_EXTERNAL_VAULTS)), TrustReason.ExternalAddressNotAllowed);
});

test('a managed Vault (the operator\'s own pods) is always trusted', (t) => {
  t.true(vaultTrustDecision(vault({ size: 3 }), NO_EXTERNAL_VAULTS).ok);
});

test('token Secret: used only when its owner labelled it for this Vault', (t) => {
  const s = (labels?: Record<string, string>): V1Secret => ({ metadata: { name: 'tok', ...(labels ? { labels } : {}) }, data: { token: 'eA==' } });
  t.is(reasonOf(tokenSecretDecision(undefined, 'v', 'tok')), TrustReason.SecretNotGranted);
  const d = tokenSecretDecision(s(), 'v', 'tok');
  t.is(reasonOf(d), TrustReason.SecretNotGranted);
  t.regex((d as { message: string }).message, new RegExp(`${TOKEN_SECRET_LABEL}=v`));
  t.is(reasonOf(tokenSecretDecision(s({ [TOKEN_SECRET_LABEL]: 'other' }), 'v', 'tok')), TrustReason.SecretNotGranted);
  t.true(tokenSecretDecision(s({ [TOKEN_SECRET_LABEL]: 'v' }), 'v', 'tok').ok);
});

test('keys Secret: new, labelled for this Vault, or holding only unseal keys (adopted); anything else is left alone', (t) => {
  const s = (data: Record<string, string>, labels?: Record<string, string>, type = 'Opaque'): V1Secret => ({ metadata: { name: 'k', ...(labels ? { labels } : {}) }, type, data });
  t.true(keysSecretDecision(undefined, 'v').ok);
  t.deepEqual(keysSecretDecision(s({ 'vault-unseal-0': 'a' }, { [UNSEAL_KEYS_LABEL]: 'v' }), 'v'), { ok: true });
  // Bank-Vaults' or an earlier version's Secret: adopted
  t.deepEqual(keysSecretDecision(s({ 'vault-unseal-0': 'a', 'vault-unseal-1': 'b', 'vault-root': 'r', 'vault-test': 't' }), 'v'), { ok: true, adopt: true });
  // the empty one the pre-flight leaves behind
  t.deepEqual(keysSecretDecision(s({}), 'v'), { ok: true, adopt: true });
  const other = keysSecretDecision(s({ 'vault-unseal-0': 'a' }, { [UNSEAL_KEYS_LABEL]: 'w' }), 'v');
  t.is(reasonOf(other), TrustReason.ObjectNotOwned);
  t.regex((other as { message: string }).message, /unseal keys of Vault w/);
  const unrelated = keysSecretDecision(s({ password: 'p', 'vault-unseal-0': 'a' }), 'v');
  t.is(reasonOf(unrelated), TrustReason.ObjectNotOwned);
  t.regex((unrelated as { message: string }).message, /holds password/);
  t.is(reasonOf(keysSecretDecision(s({ 'tls.crt': 'c', 'tls.key': 'k' }, undefined, 'kubernetes.io/tls'), 'v')), TrustReason.ObjectNotOwned);
  t.is(reasonOf(keysSecretDecision(s({}, undefined, 'kubernetes.io/service-account-token'), 'v')), TrustReason.ObjectNotOwned);
});

test('takeover: only objects this Vault controls (or, cluster-scoped, carries the owner labels of)', (t) => {
  const desired: KubernetesObject = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'v', namespace: 'team-a' } };
  t.true(takeoverDecision(desired, undefined, vault()).ok);
  t.true(takeoverDecision(desired, { metadata: { name: 'v', namespace: 'team-a', ownerReferences: [{ apiVersion: 'x', kind: 'Vault', name: 'v', uid: UID, controller: true }] } }, vault()).ok);
  const foreign = takeoverDecision(desired, { metadata: { name: 'v', namespace: 'team-a', ownerReferences: [{ apiVersion: 'x', kind: 'Vault', name: 'v', uid: 'other-uid', controller: true }] } }, vault());
  t.is(reasonOf(foreign), TrustReason.ObjectNotOwned);
  t.regex((foreign as { message: string }).message, /^Service v in team-a exists and was not created by this Vault/);
  // a non-controller reference does not make it ours
  t.false(takeoverDecision(desired, { metadata: { name: 'v', ownerReferences: [{ apiVersion: 'x', kind: 'Vault', name: 'v', uid: UID }] } }, vault()).ok);
  // owner labels count for cluster-scoped objects only (anyone can label a namespaced object)
  const labels = { 'vault.autopilot.dev/vault-namespace': 'team-a', 'vault.autopilot.dev/vault-name': 'v' };
  t.false(takeoverDecision(desired, { metadata: { name: 'v', namespace: 'team-a', labels } }, vault()).ok);
  const crb: KubernetesObject = { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'b' } };
  t.true(takeoverDecision(crb, { metadata: { name: 'b', labels } }, vault()).ok);
  t.false(takeoverDecision(crb, { metadata: { name: 'b', labels: { ...labels, 'vault.autopilot.dev/vault-namespace': 'team-b' } } }, vault()).ok);
});

test('auth-delegator: only the ServiceAccount this Vault created', (t) => {
  t.true(authDelegatorDecision({ metadata: { name: 'v', ownerReferences: [{ apiVersion: 'x', kind: 'Vault', name: 'v', uid: UID, controller: true }] } }, vault()).ok);
  const chosen = authDelegatorDecision({ metadata: { name: 'default' } }, vault({ serviceAccount: 'default' }));
  t.is(reasonOf(chosen), TrustReason.ObjectNotOwned);
  t.regex((chosen as { message: string }).message, /ServiceAccount default was not created by this Vault/);
  t.false(authDelegatorDecision(undefined, vault()).ok);
});

test('unseal keys: Bank-Vaults contexts are tried only when bound to the namespace or the namespace is a listed legacy one', (t) => {
  const withContext = (kmsEncryptionContext?: string) => vault({ unsealConfig: { aws: { kmsKeyId: 'alias/k', ...(kmsEncryptionContext ? { kmsEncryptionContext } : {}) } } });
  // bound to this namespace (as `seal --namespace` binds): tried, with exactly that context
  const bound = unsealKeyContexts(withContext('app=vault,vault.autopilot.dev/namespace=team-a'), []);
  t.deepEqual(bound.fallbacks, [{ app: 'vault', 'vault.autopilot.dev/namespace': 'team-a' }]);
  t.regex(bound.message, /do not decrypt with this Vault's own encryption context \(vault\.autopilot\.dev\/vault=team-a\/v\) nor with kmsEncryptionContext "app=vault,vault\.autopilot\.dev\/namespace=team-a"/);
  // no context, or one without the namespace: refused unless listed
  for (const ctx of [undefined, 'app=vault', 'vault.autopilot.dev/vault=team-b/v']) {
    const d = unsealKeyContexts(withContext(ctx), []);
    t.deepEqual(d.fallbacks, [], `${ctx}: nothing else is tried`);
    t.regex(d.message, /VAULT_AUTOPILOT_KMS_LEGACY_NAMESPACES lists "team-a"/);
    t.regex(d.message, /contains vault\.autopilot\.dev\/namespace=team-a/);
    t.regex(d.message, /own encryption context \(vault\.autopilot\.dev\/vault=team-a\/v\)/);
  }
  t.deepEqual(unsealKeyContexts(withContext(), ['team-a']).fallbacks, [{}], 'listed: no context, as Bank-Vaults stores them');
  t.deepEqual(unsealKeyContexts(withContext('app=vault'), ['*']).fallbacks, [{ app: 'vault' }]);
  t.deepEqual(unsealKeyContexts(withContext(), ['team-b']).fallbacks, [], 'another namespace listed: not this one');
  // naming another namespace: refused even where legacy keys are accepted
  const foreign = unsealKeyContexts(withContext('vault.autopilot.dev/namespace=team-b'), ['*']);
  t.deepEqual(foreign.fallbacks, []);
  t.regex(foreign.message, /names namespace "team-b", not "team-a"/);
});
