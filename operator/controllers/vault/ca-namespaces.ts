// caNamespaces (Bank-Vaults): the Vault's CA certificate kept in other
// namespaces, as Bank-Vaults did: a Secret named like the Vault's TLS Secret
// (`<name>-tls`) holding only `ca.crt`, so clients that mounted it keep
// working after a migration. Tenancy: anyone with `edit` in a namespace may
// write a Vault there, so a Vault resource alone may not make the operator
// write into other namespaces. Two gates: the platform lists the namespaces
// whose Vaults may (VAULT_AUTOPILOT_CA_COPY_FROM_NAMESPACES, e.g. the platform
// Vault's vault-system), and the Vault's own namespace decides where: only
// namespaces its spec.selfService admits (the tenants it serves, whose
// workloads need its CA). Everything else is reported.
// Copies carry owner labels (an owner reference cannot cross namespaces): an
// object of that name without them is never touched, and copies are deleted
// when their namespace leaves the list or the Vault goes.
import type { V1Namespace, V1Secret } from '@kubernetes/client-node';
import { API_GROUP } from '../../api/naming.js';
import { errorCode, isNotFound } from '../../framework/index.js';
import type { VaultResource } from '../../api/vault.js';
import { admitsNamespace } from '../serviceaccount/self-service.js';
import { generatedTlsSecretName, OWNER_NAME_LABEL, OWNER_NAMESPACE_LABEL } from './desired-objects.js';
import { readSecret, writeSecret, type VaultPhaseContext, type VaultReconcileContext } from './phase-context.js';

export const CA_COPY_LABEL = `${API_GROUP}/ca-copy`;
export const ALL_NAMESPACES = '*';

export const caCopyName = (vault: VaultResource): string => generatedTlsSecretName(vault.metadata!.name!);

export function caCopyLabels(vault: VaultResource): Record<string, string> {
  return {
    'app.kubernetes.io/managed-by': 'vault-autopilot',
    [CA_COPY_LABEL]: 'true',
    [OWNER_NAMESPACE_LABEL]: vault.metadata!.namespace!,
    [OWNER_NAME_LABEL]: vault.metadata!.name!,
  };
}

/** Pure: the copy in `namespace` (type Opaque, only ca.crt, as Bank-Vaults wrote it). */
export function desiredCaCopy(vault: VaultResource, namespace: string, caCert: string): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: caCopyName(vault), namespace, labels: caCopyLabels(vault) },
    type: 'Opaque',
    data: { 'ca.crt': Buffer.from(caCert).toString('base64') },
  };
}

/** Pure: is this Secret a copy this Vault made? */
export function isOwnCopy(vault: VaultResource, secret: V1Secret | undefined): boolean {
  const labels = secret?.metadata?.labels ?? {};
  return Object.entries(caCopyLabels(vault)).every(([k, v]) => labels[k] === v);
}

export interface CaTargets {
  /** Namespaces that get (or keep) a copy. */
  targets: string[];
  /** Listed namespaces that do not, and why. */
  refused: Array<{ namespace: string; why: string }>;
}

/**
 * Pure: where the CA goes. `namespaces`: the cluster's namespaces named by
 * caNamespaces (all of them for "*"), with labels; listed ones that do not
 * exist (or are terminating) are skipped, as Bank-Vaults did. `allowedFrom`:
 * the platform's VAULT_AUTOPILOT_CA_COPY_FROM_NAMESPACES.
 */
export function caTargets(vault: VaultResource, namespaces: readonly V1Namespace[], allowedFrom: readonly string[] = []): CaTargets {
  const own = vault.metadata!.namespace!;
  const out: CaTargets = { targets: [], refused: [] };
  const platformAllows = platformAllowsCopies(vault, allowedFrom);
  for (const ns of namespaces) {
    const name = ns.metadata?.name;
    if (!name || name === own || ns.metadata?.deletionTimestamp) continue;
    if (!platformAllows) {
      out.refused.push({ namespace: name, why: notAllowed(own) });
    } else if (!admitsNamespace(vault, name, ns.metadata?.labels ?? {})) {
      out.refused.push({ namespace: name, why: 'spec.selfService.namespaces does not admit it' });
    } else {
      out.targets.push(name);
    }
  }
  out.targets.sort();
  out.refused.sort((a, b) => a.namespace.localeCompare(b.namespace));
  return out;
}

/** Pure: may Vaults of this namespace keep their CA in others at all? (the platform's VAULT_AUTOPILOT_CA_COPY_FROM_NAMESPACES) */
export function platformAllowsCopies(vault: VaultResource, allowedFrom: readonly string[] = []): boolean {
  return allowedFrom.includes(ALL_NAMESPACES) || allowedFrom.includes(vault.metadata!.namespace!);
}

const notAllowed = (own: string) => `the platform does not let Vaults of namespace ${own} write into other namespaces (operator setting VAULT_AUTOPILOT_CA_COPY_FROM_NAMESPACES)`;

/** Pure: the status.ignoredFields line for refused namespaces (undefined when none). */
export function caRefusalReason(refused: CaTargets['refused'], foreign: readonly string[]): string | undefined {
  const parts = [
    ...refused.map((r) => `${r.namespace}: ${r.why}`),
    ...foreign.map((ns) => `${ns}: a Secret of that name exists and was not made for this Vault (never taken over; delete it, e.g. Bank-Vaults' copy, to have the operator write its own)`),
  ];
  return parts.length ? `no CA copy in ${parts.join('; ')}` : undefined;
}

/** Creates, updates and deletes the copies; records where they are in status.caCopies (also read on delete). */
export async function keepCaCopies(p: VaultPhaseContext, caCert: string | undefined): Promise<void> {
  const { vault, ctx, status } = p;
  const listed = vault.spec.caNamespaces ?? [];
  const record = new Set(vault.status?.caCopies ?? []);
  const save = () => {
    if (record.size) status.caCopies = [...record].sort();
    else delete status.caCopies;
  };
  if (!listed.length && !record.size) {
    p.caNamespacesRefused = null;
    return save();
  }
  if (!caCert) return; // no CA yet (an existingTlsSecretName without ca.crt): nothing to copy, nothing decided
  if (!record.size && !platformAllowsCopies(vault, p.deps.settings.caCopyFromNamespaces)) {
    // a tenant's Vault: not a single read in other namespaces
    p.caNamespacesRefused = `no CA copy in other namespaces: ${notAllowed(vault.metadata!.namespace!)}`;
    return save();
  }
  const namespaces = listed.includes(ALL_NAMESPACES)
    ? (await ctx.kube.core.listNamespace()).items
    : (await Promise.all([...new Set(listed)].map((name) => readNamespace(p, name)))).filter((n): n is V1Namespace => !!n);
  const { targets, refused } = caTargets(vault, namespaces, p.deps.settings.caCopyFromNamespaces);
  const foreign: string[] = [];
  const name = caCopyName(vault);
  for (const namespace of targets) {
    try {
      const current = await readSecret(ctx, namespace, name);
      if (current && !isOwnCopy(vault, current)) {
        foreign.push(namespace);
        record.delete(namespace);
        continue;
      }
      const desired = desiredCaCopy(vault, namespace, caCert);
      if (!current || current.data?.['ca.crt'] !== desired.data!['ca.crt'] || Object.keys(current.data ?? {}).length !== 1) {
        await writeSecret(p, current, desired);
      }
      record.add(namespace);
      save();
    } catch (err) {
      // an operator installed for some namespaces only may not write there
      if (errorCode(err) !== 403) throw err;
      refused.push({ namespace, why: 'the operator may not write Secrets there (its install scope)' });
    }
  }
  // namespaces that left the list (or stopped being admitted): their copy goes, if it is still ours
  for (const namespace of [...record]) {
    if (targets.includes(namespace)) continue;
    const current = await readSecret(ctx, namespace, name);
    if (isOwnCopy(vault, current)) {
      await ctx.kube.core.deleteNamespacedSecret({ name, namespace }).catch((err: unknown) => {
        if (!isNotFound(err)) throw err;
      });
    }
    record.delete(namespace);
    save();
  }
  save();
  p.caNamespacesRefused = caRefusalReason(refused, foreign) ?? null;
}

/** On delete: the copies the status says exist, if they are still this Vault's. */
export async function deleteCaCopies(vault: VaultResource, ctx: VaultReconcileContext): Promise<void> {
  const name = caCopyName(vault);
  for (const namespace of vault.status?.caCopies ?? []) {
    const current = await readSecret(ctx, namespace, name);
    if (!isOwnCopy(vault, current)) continue;
    await ctx.kube.core.deleteNamespacedSecret({ name, namespace }).catch((err: unknown) => {
      if (!isNotFound(err)) throw err;
    });
  }
}

async function readNamespace(p: VaultPhaseContext, name: string): Promise<V1Namespace | undefined> {
  try {
    return await p.ctx.kube.core.readNamespace({ name });
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}
