// Managed mode: the Kubernetes objects a Vault resource stands for (decided
// by desired-objects.ts and tls.ts) are created, updated when they stop
// matching, and deleted when their field goes away.
import { X509Certificate } from 'node:crypto';
import { PatchStrategy, type KubernetesObject, type KubernetesObjectApi, type V1Secret } from '@kubernetes/client-node';
import { VaultEventReason } from '../../api/vault.js';
import { markSecret, isNotFound } from '../../framework/index.js';
import { obsoleteObjects } from './bankvaults-overlay.js';
import { caSecretName, containsDesired, desiredObjects, generatedTlsSecretName, ownerReference, serverConfig, serviceAccountName } from './desired-objects.js';
import { serviceRegistrationBindingName, serviceRegistrationOn } from './service-registration.js';
import { b64, readSecret, redactionScope, writeSecret, type VaultPhaseContext } from './phase-context.js';
import { refusedStop, refusedWarning } from './refusal.js';
import { authDelegatorDecision, takeoverDecision, type Decision } from './trust.js';
import { watchedSecretsChecksum, watchesSecrets } from './watched-secrets.js';
import { decideTls, issueTls, thresholdMs, vaultTlsNames } from './tls.js';

export const FIELD_MANAGER = 'vault-autopilot-vault';

/** The kind's API is not served (a CRD that is not installed): client-node's discovery says so. */
function isMissingApi(err: unknown): boolean {
  const message = err instanceof Error ? err.message : String(err);
  return /Failed to fetch resource metadata|Unrecognized API version and kind/.test(message);
}

/** StatefulSet, Services, config, RBAC, PDB and TLS. Returns the CA clients use. */
export async function ensureManagedObjects(p: VaultPhaseContext): Promise<string | undefined> {
  const { vault } = p;
  const objects = p.ctx.kube.objects;
  // every object is read first: one that is someone else's stops the whole apply, before anything is written
  const actual = await readActual(objects, desiredObjects(vault, p.deps.settings.defaultImage));
  const conflicts = await takeoverConflicts(p, actual);
  if (conflicts.length) {
    throw await refusedStop(p, { ok: false, reason: conflicts[0]!.reason, message: conflicts.map((c) => c.message).join('; ') });
  }
  const tls = await ensureTls(p);
  const watched = await watchedSecrets(p);
  let serviceAccount: KubernetesObject | undefined;
  for (const desired of desiredObjects(vault, p.deps.settings.defaultImage, tls.cert, watched)) {
    const current = actual.get(objectKey(desired));
    if (desired.kind === 'ServiceMonitor') {
      // the Prometheus Operator's CRD may not be installed: then serviceMonitorEnabled is reported
      if (current === MISSING_API) {
        p.cluster.serviceMonitorApiMissing = true;
        continue;
      }
      try {
        await ensureObject(objects, desired, false, current);
        p.cluster.serviceMonitorApiMissing = false;
      } catch (err) {
        if (!isMissingApi(err)) throw err;
        p.cluster.serviceMonitorApiMissing = true;
      }
      continue;
    }
    if (desired.kind === 'ClusterRoleBinding') {
      // system:auth-delegator only for the ServiceAccount this Vault created
      const bound = authDelegatorDecision(serviceAccount, vault);
      if (!bound.ok) {
        await refusedWarning(p, bound);
        if (current && current !== MISSING_API) await deleteObject(objects, desired);
        continue;
      }
    }
    if (desired.kind === 'RoleBinding') {
      // service registration: likewise only for the ServiceAccount this Vault created (else the user binds it, as with Bank-Vaults)
      if (!authDelegatorDecision(serviceAccount, vault).ok) {
        p.serviceRegistrationUnbound = serviceAccount?.metadata?.name ?? serviceAccountName(vault);
        if (current && current !== MISSING_API && isControlled(current, vault)) await deleteObject(objects, desired);
        continue;
      }
    }
    // a ServiceAccount may be shared or pre-created: create it, never take it over
    const result = await ensureObject(objects, desired, desired.kind === 'ServiceAccount', current === MISSING_API ? undefined : current);
    if (desired.kind === 'ServiceAccount') serviceAccount = result;
  }
  const obsolete = obsoleteObjects(vault);
  if (!serviceRegistrationOn(vault, serverConfig(vault))) {
    obsolete.push({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', name: serviceRegistrationBindingName(vault.metadata!.name!), namespace: vault.metadata!.namespace! });
  }
  for (const ref of obsolete) {
    try {
      await deleteIfControlled(objects, ref, vault.metadata!.uid!);
    } catch (err) {
      if (!isMissingApi(err)) throw err;
    }
  }
  return tls.caCert;
}

/** The checksum of the Secrets spec.watchedSecretsLabels/Annotations select in the Vault's namespace (one list, only when set). */
async function watchedSecrets(p: VaultPhaseContext): Promise<string | undefined> {
  if (!watchesSecrets(p.vault.spec)) return undefined;
  const list = await p.ctx.kube.core.listNamespacedSecret({ namespace: p.vault.metadata!.namespace! });
  return watchedSecretsChecksum(p.vault.spec, list.items);
}

const MISSING_API = Symbol('missing API');
type Actual = Map<string, KubernetesObject | typeof MISSING_API | undefined>;

function objectKey(o: KubernetesObject): string {
  return `${o.kind}/${o.metadata?.namespace ?? ''}/${o.metadata?.name}`;
}

async function readActual(objects: KubernetesObjectApi, desired: KubernetesObject[]): Promise<Actual> {
  const actual: Actual = new Map();
  await Promise.all(
    desired.map(async (d) => {
      try {
        actual.set(objectKey(d), await objects.read({ apiVersion: d.apiVersion!, kind: d.kind!, metadata: { name: d.metadata!.name!, ...(d.metadata?.namespace ? { namespace: d.metadata.namespace } : {}) } } as KubernetesObject & { metadata: { name: string; namespace: string } }));
      } catch (err) {
        if (isNotFound(err)) actual.set(objectKey(d), undefined);
        else if (isMissingApi(err)) actual.set(objectKey(d), MISSING_API);
        else throw err;
      }
    }),
  );
  return actual;
}

/** Objects of the names this Vault needs that exist and are not its own (the ServiceAccount is never applied, so never taken over). */
async function takeoverConflicts(p: VaultPhaseContext, actual: Actual): Promise<Array<Extract<Decision, { ok: false }>>> {
  const { vault } = p;
  const name = vault.metadata!.name!;
  const namespace = vault.metadata!.namespace!;
  const found: Array<[KubernetesObject, KubernetesObject | undefined]> = [];
  for (const desired of desiredObjects(vault, p.deps.settings.defaultImage)) {
    const current = actual.get(objectKey(desired));
    if (desired.kind !== 'ServiceAccount' && current !== MISSING_API) found.push([desired, current]);
  }
  if (!vault.spec.existingTlsSecretName) {
    for (const secretName of [caSecretName(name), generatedTlsSecretName(name)]) {
      found.push([{ apiVersion: 'v1', kind: 'Secret', metadata: { name: secretName, namespace } }, await readSecret(p.ctx, namespace, secretName)]);
    }
  }
  return found.map(([desired, current]) => takeoverDecision(desired, current, vault)).filter((d): d is Extract<Decision, { ok: false }> => !d.ok);
}

function isControlled(obj: KubernetesObject, vault: { metadata?: { uid?: string } }): boolean {
  return !!obj.metadata?.ownerReferences?.some((o) => o.uid === vault.metadata?.uid && o.controller);
}

async function deleteObject(objects: KubernetesObjectApi, desired: KubernetesObject): Promise<void> {
  try {
    await objects.delete({ apiVersion: desired.apiVersion!, kind: desired.kind!, metadata: { name: desired.metadata!.name!, ...(desired.metadata?.namespace ? { namespace: desired.metadata.namespace } : {}) } });
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

/** Deletes an object this Vault made for a field that is now unset; anything else of that name is left alone. */
async function deleteIfControlled(objects: KubernetesObjectApi, ref: { apiVersion: string; kind: string; name: string; namespace: string }, uid: string): Promise<void> {
  const id = { apiVersion: ref.apiVersion, kind: ref.kind, metadata: { name: ref.name, namespace: ref.namespace } };
  let actual: KubernetesObject;
  try {
    actual = await objects.read(id);
  } catch (err) {
    if (isNotFound(err)) return;
    throw err;
  }
  if (!actual.metadata?.ownerReferences?.some((o) => o.uid === uid && o.controller)) return;
  try {
    await objects.delete(id);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

/** A Service's selector must be exactly ours (a key we dropped, e.g. vault-active, must go: containsDesired only sees what we set). */
function sameSelector(desired: KubernetesObject, actual: KubernetesObject): boolean {
  if (desired.kind !== 'Service') return true;
  const selector = (o: KubernetesObject) => (o as { spec?: { selector?: Record<string, string> } }).spec?.selector ?? {};
  const d = selector(desired);
  const a = selector(actual);
  return Object.keys(a).length === Object.keys(d).length && Object.entries(d).every(([k, v]) => a[k] === v);
}

/** Creates or updates one object; returns it as it now is (the create/apply answer, or the unchanged actual). */
async function ensureObject(objects: KubernetesObjectApi, desired: KubernetesObject, createOnly: boolean, actual: KubernetesObject | undefined): Promise<KubernetesObject> {
  if (actual && (createOnly || (containsDesired(desired, actual) && sameSelector(desired, actual)))) return actual;
  return objects.patch(desired, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
}

/** The CA clients use, and the serving certificate the pods must run with. */
async function ensureTls(p: VaultPhaseContext): Promise<{ caCert?: string; cert?: string }> {
  const { vault, ctx, status } = p;
  const name = vault.metadata!.name!;
  const namespace = vault.metadata!.namespace!;
  if (vault.spec.existingTlsSecretName) {
    const existing = await readSecret(ctx, namespace, vault.spec.existingTlsSecretName);
    delete status.tlsNotAfter;
    const text = (key: string) => (existing?.data?.[key] ? Buffer.from(existing.data[key], 'base64').toString('utf8') : undefined);
    return { caCert: text('ca.crt'), cert: text('tls.crt') };
  }
  const caSecret = await readSecret(ctx, namespace, caSecretName(name));
  const tlsSecret = await readSecret(ctx, namespace, generatedTlsSecretName(name));
  const text = (s: V1Secret | undefined, key: string) => (s?.data?.[key] ? Buffer.from(s.data[key], 'base64').toString('utf8') : undefined);
  const stored = {
    ca: { cert: text(caSecret, 'tls.crt'), key: text(caSecret, 'tls.key') },
    serving: { cert: text(tlsSecret, 'tls.crt'), key: text(tlsSecret, 'tls.key'), caCert: text(tlsSecret, 'ca.crt') },
  };
  const names = vaultTlsNames(name, namespace, vault.spec.tlsAdditionalHosts);
  const now = ctx.clock.now();
  const decision = decideTls(stored, names, now, thresholdMs(vault.spec.tlsExpiryThreshold));
  if (decision.action === 'keep') {
    status.tlsNotAfter = decision.notAfter.toISOString();
    return { caCert: stored.ca.cert, cert: stored.serving.cert };
  }
  const existingCa = !decision.newCa && stored.ca.cert && stored.ca.key ? { cert: stored.ca.cert, key: stored.ca.key } : undefined;
  const issued = issueTls(name, names, existingCa, { now, caValidityDays: p.deps.settings.caValidityDays, certValidityDays: p.deps.settings.certValidityDays });
  // a reused CA key came from a Secret the namespace's users can write: this Vault's lines only
  markSecret(issued.ca.key, redactionScope(vault));
  markSecret(issued.serving.key, redactionScope(vault));
  const owner = [ownerReference(vault)];
  if (decision.newCa) {
    await writeSecret(p, caSecret, {
      metadata: { name: caSecretName(name), namespace, ownerReferences: owner },
      type: 'kubernetes.io/tls',
      data: { 'tls.crt': b64(issued.ca.cert), 'tls.key': b64(issued.ca.key) },
    });
  }
  await writeSecret(p, tlsSecret, {
    metadata: { name: generatedTlsSecretName(name), namespace, ownerReferences: owner },
    type: 'kubernetes.io/tls',
    data: { 'ca.crt': b64(issued.ca.cert), 'tls.crt': b64(issued.serving.cert), 'tls.key': b64(issued.serving.key) },
  });
  status.tlsNotAfter = new Date(Date.parse(new X509Certificate(issued.serving.cert).validTo)).toISOString();
  await ctx.event('Normal', VaultEventReason.TlsRenewed, `issued serving certificate in Secret ${generatedTlsSecretName(name)} (${decision.reason})`);
  return { caCert: issued.ca.cert, cert: issued.serving.cert };
}
