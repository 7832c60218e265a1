// Managed mode: the Kubernetes objects a Vault resource stands for (decided
// by desired-objects.ts and tls.ts) are created, updated when they stop
// matching, and deleted when their field goes away.
import { X509Certificate } from 'node:crypto';
import { PatchStrategy, type KubernetesObject, type KubernetesObjectApi, type V1Secret } from '@kubernetes/client-node';
import { VaultEventReason } from '../../api/vault.js';
import { markSecret } from '../../framework/logger.js';
import { obsoleteObjects } from './bankvaults-overlay.js';
import { caSecretName, containsDesired, desiredObjects, generatedTlsSecretName, ownerReference } from './desired-objects.js';
import { b64, isNotFound, readSecret, writeSecret, type VaultPhaseContext } from './phase-context.js';
import { decideTls, issueTls, thresholdMs, vaultTlsNames } from './tls.js';

export const FIELD_MANAGER = 'vault-autopilot-vault';

/** The kind's API is not served (a CRD that is not installed): client-node's discovery says so. */
function isMissingApi(err: unknown): boolean {
  const message = err instanceof Error ? err.message : String(err);
  return /Failed to fetch resource metadata|Unrecognized API version and kind/.test(message);
}

/** StatefulSet, Services, config, RBAC, PDB and TLS. Returns the CA clients use. */
export async function ensureManagedObjects(p: VaultPhaseContext): Promise<string | undefined> {
  const { vault, ctx } = p;
  const objects = ctx.kube.objects;
  const tls = await ensureTls(p);
  for (const desired of desiredObjects(vault, p.deps.settings.defaultImage, tls.cert)) {
    // a ServiceAccount may be shared or pre-created: create it, never take it over
    if (desired.kind === 'ServiceMonitor') {
      // the Prometheus Operator's CRD may not be installed: then serviceMonitorEnabled is reported
      try {
        await ensureObject(p, objects, desired, false);
        p.cluster.serviceMonitorApiMissing = false;
      } catch (err) {
        if (!isMissingApi(err)) throw err;
        p.cluster.serviceMonitorApiMissing = true;
      }
      continue;
    }
    await ensureObject(p, objects, desired, desired.kind === 'ServiceAccount');
  }
  for (const ref of obsoleteObjects(vault)) {
    try {
      await deleteIfControlled(p, objects, ref, vault.metadata!.uid!);
    } catch (err) {
      if (!isMissingApi(err)) throw err;
    }
  }
  return tls.caCert;
}

/** Deletes an object this Vault made for a field that is now unset; anything else of that name is left alone. */
async function deleteIfControlled(p: VaultPhaseContext, objects: KubernetesObjectApi, ref: { apiVersion: string; kind: string; name: string; namespace: string }, uid: string): Promise<void> {
  const id = { apiVersion: ref.apiVersion, kind: ref.kind, metadata: { name: ref.name, namespace: ref.namespace } };
  let actual: KubernetesObject;
  try {
    actual = await objects.read(id);
  } catch (err) {
    if (isNotFound(err)) return;
    throw err;
  }
  if (!actual.metadata?.ownerReferences?.some((o) => o.uid === uid && o.controller)) return;
  p.deps.onKubeWrite?.(`delete ${ref.kind}/${ref.name}`);
  try {
    await objects.delete(id);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

async function ensureObject(p: VaultPhaseContext, objects: KubernetesObjectApi, desired: KubernetesObject, createOnly: boolean): Promise<void> {
  let actual: KubernetesObject | undefined;
  try {
    actual = await objects.read({ apiVersion: desired.apiVersion!, kind: desired.kind!, metadata: { name: desired.metadata!.name!, namespace: desired.metadata!.namespace! } } as KubernetesObject & { metadata: { name: string; namespace: string } });
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  if (actual && (createOnly || containsDesired(desired, actual))) return;
  p.deps.onKubeWrite?.(`${actual ? 'apply' : 'create'} ${desired.kind}/${desired.metadata!.name}`);
  await objects.patch(desired, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
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
  markSecret(issued.ca.key);
  markSecret(issued.serving.key);
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
