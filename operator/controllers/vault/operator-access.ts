// The operator's own access to a Vault: a client it may configure Vault
// with, and the bootstrap of that access (operator token from the root token,
// root token revoked, recovery through the unseal keys).
import { OPERATOR_AUTH_PATH, OPERATOR_AUTH_ROLE } from '../../api/naming.js';
import { VaultEventReason } from '../../api/vault.js';
import { markSecret, secret, type Secret } from '../../framework/index.js';
import { VaultError, type VaultClient } from '../../vault/client.js';
import { describeError } from '../../vault/config-plan.js';
import { createOperatorToken, generateRootToken, needsRenewal, renewToken, revokeToken, tokenTtl } from '../../vault/init.js';
import { ROOT_TOKEN_KEY, type StoredKeys } from '../../vault/unseal.js';
import { operatorTokenSecretName, ownerReference, unsealKeysSecretName } from './desired-objects.js';
import { b64, notAuthorized, readSecret, redactionScope, writeSecret, type VaultPhaseContext } from './phase-context.js';
import { refusedStop } from './refusal.js';
import { takeoverDecision, tokenSecretDecision } from './trust.js';
import { keyStoreClient, keyStoreOf } from './key-store.js';
import { raftLeaderApiAddr } from './raft-follower.js';
import { deleteKvKey } from '../../vault/kv-keys.js';

/**
 * A client the operator may configure Vault with. In order: spec.external.auth;
 * the operator token kept in `<name>-operator-token`; bootstrapping that token
 * with a stored root token. The root token is revoked and removed once the
 * operator token exists, unless storeRootToken.
 */
export async function operatorAccess(
  p: VaultPhaseContext,
  address: string,
  caCert: string | undefined,
  keys: { hasRootToken: boolean; hasKeys: boolean; load: () => Promise<StoredKeys> },
  storeRootToken: boolean,
): Promise<VaultClient> {
  const { vault, ctx } = p;
  const name = vault.metadata!.name!;
  const namespace = vault.metadata!.namespace!;
  const external = vault.spec.external?.auth;
  const scope = redactionScope(vault);
  if (external?.method === 'kubernetes') {
    return p.clients.config(address, caCert, { method: 'kubernetes', role: external.role, ...(external.mountPath ? { mountPath: external.mountPath } : {}) }, `k8s:${external.mountPath ?? 'kubernetes'}:${external.role}`);
  }
  if (external?.method === 'token') {
    const ref = await readSecret(ctx, namespace, external.tokenSecretRef.name);
    // only a Secret its owner labelled for this Vault resource
    const granted = tokenSecretDecision(ref, name, external.tokenSecretRef.name);
    if (!granted.ok) throw await refusedStop(p, granted);
    const raw = ref?.data?.[external.tokenSecretRef.key ?? 'token'];
    if (!raw) throw notAuthorized(`Secret ${external.tokenSecretRef.name} has no key ${external.tokenSecretRef.key ?? 'token'}`);
    const token = Buffer.from(raw, 'base64').toString('utf8').trim();
    markSecret(token, scope);
    return p.clients.config(address, caCert, { method: 'token', token }, token);
  }

  const nodeClient = p.clients.node(address, caCert);
  const tokenSecret = await readSecret(ctx, namespace, operatorTokenSecretName(name));
  // a token Secret someone made by hand is read (that is how a token is handed over), never overwritten
  const tokenSecretOwned = takeoverDecision({ apiVersion: 'v1', kind: 'Secret', metadata: { name: operatorTokenSecretName(name), namespace } }, tokenSecret, vault);
  const mayWriteToken = async () => {
    if (!tokenSecretOwned.ok) throw await refusedStop(p, { ...tokenSecretOwned, message: `${tokenSecretOwned.message}; its token is not valid, and a new one would overwrite it` });
  };
  let token: Secret | undefined;
  if (tokenSecret?.data?.token) {
    const value = Buffer.from(tokenSecret.data.token, 'base64').toString('utf8');
    token = secret(value, scope);
    const ttl = await tokenTtl(nodeClient, token);
    if (!ttl.valid) token = undefined;
    else if (needsRenewal(ttl.ttl, ttl.period)) await renewToken(nodeClient, token);
  }
  const rootToken = keys.hasRootToken ? (await keys.load()).rootToken : undefined;
  if (!token && rootToken) {
    await mayWriteToken();
    token = await createOperatorToken(nodeClient, rootToken, scope);
    await writeSecret(p, tokenSecret, {
      metadata: { name: operatorTokenSecretName(name), namespace, ownerReferences: [ownerReference(vault)] },
      type: 'Opaque',
      data: { token: b64(token.reveal()) },
    });
    ctx.log.info('operator token created', { vault: `${namespace}/${name}` });
  }
  // only once the operator has its own token is the root token given up; a Raft
  // follower's root token is the leader cluster's, so it is never revoked from here
  if (token && rootToken && !storeRootToken && !raftLeaderApiAddr(vault)) {
    await revokeToken(nodeClient, rootToken);
    // unsealConfig.vault: the (now revoked) root token leaves the key store too
    const store = await keyStoreOf(p);
    if (store) await deleteKvKey(keyStoreClient(p, store), store.path, ROOT_TOKEN_KEY);
    const keysSecret = await readSecret(ctx, namespace, unsealKeysSecretName(vault));
    if (keysSecret?.data?.[ROOT_TOKEN_KEY]) {
      const data = { ...keysSecret.data };
      delete data[ROOT_TOKEN_KEY];
      await writeSecret(p, keysSecret, { ...keysSecret, data });
    }
    await ctx.event('Normal', VaultEventReason.RootTokenRevoked, 'revoked the root token; the operator uses its own token (storeRootToken is false)');
  }
  // the Kubernetes-auth role (kept by configure()) is preferred once it works;
  // the stored token stays the way back in
  if (p.deps.settings.operatorServiceAccount) {
    const k8s = p.clients.config(
      address,
      caCert,
      { method: 'kubernetes', role: OPERATOR_AUTH_ROLE, mountPath: OPERATOR_AUTH_PATH, ...(p.deps.operatorJwt ? { jwt: p.deps.operatorJwt } : {}) },
      `k8s:${OPERATOR_AUTH_PATH}:${OPERATOR_AUTH_ROLE}`,
    );
    try {
      await k8s.token();
      return k8s;
    } catch (err) {
      if (err instanceof VaultError && err.unreachable) throw err;
      ctx.log.debug('operator Kubernetes-auth login not possible yet, using the operator token', { error: describeError(err) });
    }
  }
  if (!token && keys.hasKeys) {
    // every credential is gone: the unseal keys can still make a root token
    await mayWriteToken();
    const root = await generateRootToken(nodeClient, (await keys.load()).keys, scope);
    try {
      token = await createOperatorToken(nodeClient, root, scope);
      await writeSecret(p, tokenSecret, {
        metadata: { name: operatorTokenSecretName(name), namespace, ownerReferences: [ownerReference(vault)] },
        type: 'Opaque',
        data: { token: b64(token.reveal()) },
      });
    } finally {
      await revokeToken(nodeClient, root);
    }
    await ctx.event(
      'Normal',
      VaultEventReason.OperatorTokenRecovered,
      `the operator had no valid token: generated a root token with the unseal keys, created a new operator token in Secret ${operatorTokenSecretName(name)}, revoked the root token`,
    );
  }
  if (!token) {
    throw notAuthorized(
      `the operator has no valid token for this Vault: put one in Secret ${operatorTokenSecretName(name)} (key token), set spec.external.auth, or give the operator a Kubernetes-auth role (VAULT_AUTOPILOT_OPERATOR_SERVICE_ACCOUNT)`,
    );
  }
  return p.clients.config(address, caCert, { method: 'token', token: token.reveal() }, token.reveal());
}
