// The setup the tenancy suites on `Vault` resources share: the CRD, a tenant
// (a real user with `edit` in one namespace) and Vault clients as that tenant
// and as the cluster admin.
import { API_GROUP } from '../../../operator/api/naming.js';
import type { VaultResource } from '../../../operator/api/vault.js';
import { makeKubeClients, type KubeClients } from '../../../operator/framework/kube.js';
import type { TestEnv } from '../../harness/index.js';
import { createTenant, type Tenant } from '../../support/tenant.js';
import { CRD_FILE, Vaults } from '../vault/helpers.js';

export interface VaultTenant {
  tenant: Tenant;
  admin: KubeClients;
  asTenant: Vaults;
  asAdmin: Vaults;
}

export async function vaultTenant(e: TestEnv, prefix: string): Promise<VaultTenant> {
  await e.applyCrds(CRD_FILE);
  const tenant = await createTenant(e, { prefix });
  return { tenant, admin: makeKubeClients(e.kubeConfig()), asTenant: new Vaults(tenant.kubeConfig), asAdmin: new Vaults(e.kubeConfig()) };
}

/** A `Vault` resource in `namespace`. */
export const vaultIn = (namespace: string, name: string, spec: VaultResource['spec']): VaultResource => ({
  apiVersion: `${API_GROUP}/v1alpha1`,
  kind: 'Vault',
  metadata: { name, namespace },
  spec,
});
