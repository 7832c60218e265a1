// The I/O edge of the pod webhook: turns an AdmissionRequest into a decision.
// Looks up the target Vault (address + CA), checks that it serves the pod's
// namespace (tenancy.ts), makes the CA available in the pod's namespace, then
// calls the pure mutator.

import type { V1Pod } from '@kubernetes/client-node';
import { type AdmissionDecision, type AdmissionHandler, type AdmissionRequest } from '../framework/index.js';
import { parsePodAnnotations, type VaultRef } from './annotations.js';
import { mutatePod, type VaultTarget } from './mutate.js';
import { needsNamespaceLabels } from '../api/self-service.js';
import { CaConfigMapNotOwned } from './ca-configmap.js';
import type { PodMutationSettings } from './settings.js';
import { podVaultRefusal } from './tenancy.js';
import type { NamespaceLabels, VaultResolver } from './vault-target.js';
import { inWatchScope } from '../settings.js';

export interface PodHandlerDeps {
  settings: PodMutationSettings;
  nativeSidecars: boolean;
  resolveVault: VaultResolver;
  /** Read only when the target Vault admits namespaces by label selector. */
  namespaceLabels: NamespaceLabels;
  /**
   * Makes the CA available as a ConfigMap in `namespace`; returns its name;
   * throws CaConfigMapNotOwned. On a dry run it only looks (no side effects).
   */
  ensureCa(namespace: string, vault: VaultRef, caPem: string, opts: { dryRun: boolean }): Promise<string>;
  log: { info(message: string, meta?: Record<string, unknown>): unknown };
}

const ALLOW: AdmissionDecision = { allowed: true };

export function createPodAdmissionHandler(deps: PodHandlerDeps): AdmissionHandler {
  return async (request: AdmissionRequest): Promise<AdmissionDecision> => {
    // Only pod CREATE (not DELETE, UPDATE, or subresources such as pods/binding) is ours.
    if (request.operation !== 'CREATE' || request.resource.resource !== 'pods' || request.resource.group !== '' || request.subResource) return ALLOW;
    const pod = request.object as V1Pod | null | undefined;
    if (!pod) return ALLOW;
    const namespace = request.namespace ?? pod.metadata?.namespace ?? '';
    if (deps.settings.skipNamespaces.includes(namespace)) return ALLOW;
    // outside the install scope (a selector edited by hand, OLM's own selector): not ours
    if (!inWatchScope(deps.settings.watchNamespaces, namespace)) return ALLOW;

    const parsed = parsePodAnnotations(pod, deps.settings.annotationPrefix, namespace);
    if (parsed.kind === 'none') return ALLOW;
    if (parsed.kind === 'invalid') return deny(parsed.problems.join('; '));
    const needsVault = parsed.request.agent !== undefined || parsed.request.envContainers.length > 0;

    let vault: VaultTarget | undefined;
    if (needsVault) {
      const ref: VaultRef = parsed.request.vault ?? deps.settings.defaultVault;
      const resolved = await deps.resolveVault(ref);
      if (!resolved.found) return deny(`${deps.settings.annotationPrefix}vault: ${resolved.message}`);
      const labels = needsNamespaceLabels(resolved.vault) ? await deps.namespaceLabels(namespace) : {};
      const refused = podVaultRefusal(resolved, namespace, labels, { annotationPrefix: deps.settings.annotationPrefix, byDefault: parsed.request.vault === undefined });
      if (refused) {
        deps.log.info('pod refused', { namespace, pod: pod.metadata?.name ?? pod.metadata?.generateName, vault: `${ref.namespace}/${ref.name}`, message: refused });
        return deny(refused);
      }
      vault = { address: resolved.address };
      if (resolved.caPem) {
        try {
          vault.caConfigMapName = await deps.ensureCa(namespace, ref, resolved.caPem, { dryRun: request.dryRun === true });
        } catch (err) {
          if (err instanceof CaConfigMapNotOwned) return deny(err.message);
          throw err;
        }
      }
    }

    const outcome = mutatePod(pod, namespace, { ...deps.settings, nativeSidecars: deps.nativeSidecars, vault }, parsed);
    switch (outcome.action) {
      case 'skip':
        return ALLOW;
      case 'deny':
        return deny(outcome.message);
      case 'patch':
        if (outcome.patch.length > 0) {
          deps.log.info('pod mutated', { namespace, pod: pod.metadata?.name ?? pod.metadata?.generateName, operations: outcome.patch.length, dryRun: request.dryRun === true });
        }
        return { allowed: true, patch: outcome.patch, ...(outcome.warnings.length ? { warnings: outcome.warnings } : {}) };
    }
  };
}

function deny(message: string): AdmissionDecision {
  return { allowed: false, code: 400, message };
}
