// Bank-Vaults spec fields this operator accepts but that have no effect here:
// they configure a Bank-Vaults component that does not exist (sidecars, the
// configurer pod, ...) or a feature not supported (yet). Migrated resources
// keep them, so nothing is silently pruned; the user is told which and why
// (one Warning Event when the list changes, and status.ignoredFields).
import { effectiveAuthPath, type VaultSpec } from '../../api/vault.js';

export interface IgnoredField {
  /** e.g. `spec.statsdImage`, `spec.externalConfig.auth[path=people].users` */
  field: string;
  reason: string;
}

const NO_SIDECAR = 'there is no Bank-Vaults sidecar here: the operator unseals and configures Vault from its own process';
const NO_CONFIGURER = 'there is no configurer pod here: the operator configures Vault itself';
const NO_STATSD = 'there is no statsd exporter here: Vault serves Prometheus metrics itself at /v1/sys/metrics (see serviceMonitorEnabled)';
const NO_FLUENTD = 'there is no fluentd sidecar here: add your own log shipper with vaultContainers';
const NO_OPERATOR_CREDENTIAL = 'not used: the operator logs in to the key store with unsealConfig.vault.token only, never with a credential of its own';
const KEYS_IN_SECRET = 'unseal keys are kept in a Kubernetes Secret (KMS-encrypted with unsealConfig.aws), not in this store';

type Rule = { field: string; when: (spec: VaultSpec) => boolean; reason: string };

const present = (v: unknown) => v !== undefined && v !== null && !(Array.isArray(v) && v.length === 0) && !(typeof v === 'object' && !Array.isArray(v) && Object.keys(v as object).length === 0);

const RULES: Rule[] = [
  { field: 'bankVaultsImage', when: (s) => present(s.bankVaultsImage), reason: NO_SIDECAR },
  { field: 'bankVaultsVolumeMounts', when: (s) => present(s.bankVaultsVolumeMounts), reason: NO_SIDECAR },
  { field: 'sidecarEnvsConfig', when: (s) => present(s.sidecarEnvsConfig), reason: 'there are no Bank-Vaults sidecars (bank-vaults, statsd, fluentd) here' },
  { field: 'envsConfig', when: (s) => present(s.envsConfig), reason: `${NO_SIDECAR}; give the operator's own Deployment the variables it needs (e.g. for KMS)` },
  { field: 'vaultConfigurerAnnotations', when: (s) => present(s.vaultConfigurerAnnotations), reason: NO_CONFIGURER },
  { field: 'vaultConfigurerLabels', when: (s) => present(s.vaultConfigurerLabels), reason: NO_CONFIGURER },
  { field: 'vaultConfigurerPodSpec', when: (s) => present(s.vaultConfigurerPodSpec), reason: NO_CONFIGURER },
  { field: 'statsdDisabled', when: (s) => s.statsdDisabled === false, reason: NO_STATSD },
  { field: 'statsdImage', when: (s) => present(s.statsdImage), reason: NO_STATSD },
  { field: 'statsdConfig', when: (s) => present(s.statsdConfig), reason: NO_STATSD },
  { field: 'fluentdEnabled', when: (s) => s.fluentdEnabled === true, reason: NO_FLUENTD },
  { field: 'fluentdImage', when: (s) => present(s.fluentdImage), reason: NO_FLUENTD },
  { field: 'fluentdConfLocation', when: (s) => present(s.fluentdConfLocation), reason: NO_FLUENTD },
  { field: 'fluentdConfFile', when: (s) => present(s.fluentdConfFile), reason: NO_FLUENTD },
  { field: 'fluentdConfig', when: (s) => present(s.fluentdConfig), reason: NO_FLUENTD },
  { field: 'istioEnabled', when: (s) => s.istioEnabled === true, reason: 'ports are not renamed for Istio here; name them with servicePorts if your mesh needs it' },
  { field: 'veleroEnabled', when: (s) => s.veleroEnabled === true, reason: 'no Velero fsfreeze container or backup hooks are added here; take Raft snapshots instead' },
  { field: 'veleroFsfreezeImage', when: (s) => present(s.veleroFsfreezeImage), reason: 'no Velero fsfreeze container is added here' },
  { field: 'resources.bankVaults', when: (s) => present(s.resources?.bankVaults), reason: NO_SIDECAR },
  { field: 'resources.hsmDaemon', when: (s) => present(s.resources?.hsmDaemon), reason: 'there is no HSM daemon here' },
  { field: 'resources.prometheusExporter', when: (s) => present(s.resources?.prometheusExporter), reason: NO_STATSD },
  { field: 'resources.fluentd', when: (s) => present(s.resources?.fluentd), reason: NO_FLUENTD },
  { field: 'skipEntrypointSetup', when: (s) => s.skipEntrypointSetup !== undefined, reason: "the operator starts vault directly, never through the image's entrypoint script: there is nothing to skip" },
  { field: 'configPath', when: (s) => present(s.configPath) && s.configPath!.replace(/\/+$/, '') !== '/vault/config', reason: 'the operator mounts the Vault configuration at /vault/config' },
  {
    field: 'externalConfig.purgeUnmanagedConfig',
    when: (s) => s.externalConfig?.purgeUnmanagedConfig?.enabled === true,
    reason: 'the operator removes only what it applied itself (status.managed), so entries removed from this resource are removed from Vault; it never deletes configuration it did not make',
  },
  { field: 'unsealConfig.aws.s3Bucket', when: (s) => present(s.unsealConfig?.aws?.s3Bucket), reason: KEYS_IN_SECRET },
  { field: 'unsealConfig.aws.s3Prefix', when: (s) => present(s.unsealConfig?.aws?.s3Prefix), reason: KEYS_IN_SECRET },
  { field: 'unsealConfig.aws.s3Region', when: (s) => present(s.unsealConfig?.aws?.s3Region), reason: KEYS_IN_SECRET },
  { field: 'unsealConfig.aws.s3SSE', when: (s) => present(s.unsealConfig?.aws?.s3SSE), reason: KEYS_IN_SECRET },
  { field: 'unsealConfig.google', when: (s) => present(s.unsealConfig?.google), reason: KEYS_IN_SECRET },
  { field: 'unsealConfig.alibaba', when: (s) => present(s.unsealConfig?.alibaba), reason: KEYS_IN_SECRET },
  { field: 'unsealConfig.azure', when: (s) => present(s.unsealConfig?.azure), reason: KEYS_IN_SECRET },
  { field: 'unsealConfig.oci', when: (s) => present(s.unsealConfig?.oci), reason: KEYS_IN_SECRET },
  { field: 'unsealConfig.hsm', when: (s) => present(s.unsealConfig?.hsm), reason: KEYS_IN_SECRET },
  {
    field: 'unsealConfig.vault',
    when: (s) => present(s.unsealConfig?.vault) && present(s.unsealConfig?.aws),
    reason: 'unsealConfig.aws is set too: the keys are kept in the keys Secret, KMS-encrypted (one key store per Vault, as in Bank-Vaults)',
  },
  { field: 'unsealConfig.vault.tokenPath', when: (s) => present(s.unsealConfig?.vault?.tokenPath), reason: `${NO_OPERATOR_CREDENTIAL} (tokenPath is a file in the operator's pod)` },
  { field: 'unsealConfig.vault.role', when: (s) => present(s.unsealConfig?.vault?.role), reason: `${NO_OPERATOR_CREDENTIAL} (Kubernetes auth would log in as the operator)` },
  { field: 'unsealConfig.vault.authPath', when: (s) => present(s.unsealConfig?.vault?.authPath), reason: 'see unsealConfig.vault.role' },
];

/** Where a honoured field cannot apply. */
const NOT_YET: Rule[] = [
  { field: 'raftLeaderAddress', when: (s) => present(s.raftLeaderAddress) && s.raftLeaderAddress !== 'self' && !!s.external, reason: 'spec.external is set: the operator deploys no pods that could join that leader' },
  { field: 'raftLeaderApiSchemeOverride', when: (s) => present(s.raftLeaderApiSchemeOverride) && (!present(s.raftLeaderAddress) || s.raftLeaderAddress === 'self'), reason: 'only used with a raftLeaderAddress other than self' },
];


/** Per-method extras Bank-Vaults reads only for some types (see EXTRA_COLLECTIONS in vault/auth.ts for the ones written). */
const AUTH_EXTRAS: Array<{ key: 'users' | 'groups' | 'usersOrGroupsKey' | 'map' | 'crossaccountrole'; types: readonly string[] }> = [
  { key: 'users', types: ['ldap', 'okta', 'userpass'] },
  { key: 'groups', types: ['ldap', 'okta'] },
  { key: 'map', types: ['github'] },
  { key: 'crossaccountrole', types: ['aws'] },
  { key: 'usersOrGroupsKey', types: [] },
];

/** Every field of `spec` that is accepted but has no effect, in a stable order. */
export const CA_NAMESPACES_FIELD = 'spec.caNamespaces';

/** `cluster`: what the phases found (caNamespacesRefused: ca-namespaces.ts's reason some namespaces got no CA copy; serviceRegistration: why it is off or partial). */
export function ignoredFields(spec: VaultSpec, namespace?: string, cluster: { serviceMonitorApiMissing?: boolean; caNamespacesRefused?: string; serviceRegistration?: string } = {}): IgnoredField[] {
  const out: IgnoredField[] = [];
  if (spec.serviceRegistrationEnabled && cluster.serviceRegistration) out.push({ field: 'spec.serviceRegistrationEnabled', reason: cluster.serviceRegistration });
  if (spec.caNamespaces?.length && cluster.caNamespacesRefused) out.push({ field: CA_NAMESPACES_FIELD, reason: cluster.caNamespacesRefused });
  if (spec.serviceMonitorEnabled && cluster.serviceMonitorApiMissing) {
    out.push({ field: 'spec.serviceMonitorEnabled', reason: 'the ServiceMonitor CRD (monitoring.coreos.com/v1, Prometheus Operator) is not installed in this cluster' });
  }
  for (const rule of [...RULES, ...NOT_YET]) if (rule.when(spec)) out.push({ field: `spec.${rule.field}`, reason: rule.reason });
  const keysNamespace = spec.unsealConfig?.kubernetes?.secretNamespace;
  if (keysNamespace && namespace && keysNamespace !== namespace) {
    out.push({
      field: 'spec.unsealConfig.kubernetes.secretNamespace',
      reason: `the keys Secret is kept in the Vault's own namespace (${namespace}): a Vault resource may not make the operator read or write Secrets in another namespace`,
    });
  }
  for (const auth of spec.externalConfig?.auth ?? []) {
    for (const extra of AUTH_EXTRAS) {
      if (!present(auth[extra.key]) || extra.types.includes(auth.type)) continue;
      const reason = extra.types.length
        ? `only read for auth types ${extra.types.join(', ')} (as in Bank-Vaults); this one is "${auth.type}"`
        : 'Bank-Vaults never read this field (its ldap/okta users and groups are read from `users` and `groups`)';
      out.push({ field: `spec.externalConfig.auth[path=${effectiveAuthPath(auth)}].${extra.key}`, reason });
    }
  }
  for (const list of ['containers', 'initContainers'] as const) {
    for (const c of spec.vaultPodSpec?.[list] ?? []) {
      if (c.image || ['vault'].includes(c.name)) continue;
      out.push({
        field: `spec.vaultPodSpec.${list}[name=${c.name}]`,
        reason: 'overrides a Bank-Vaults container that does not exist here (no image given, so it is not added)',
      });
    }
  }
  return out;
}

/** The Warning Event text for a new list (undefined when nothing changed or the list is empty). */
export function ignoredFieldsEvent(previous: readonly IgnoredField[] | undefined, next: readonly IgnoredField[]): string | undefined {
  const key = (list: readonly IgnoredField[] | undefined) => (list ?? []).map((f) => f.field).join('\n');
  if (next.length === 0 || key(previous) === key(next)) return undefined;
  const n = next.length;
  return `${n} field${n === 1 ? '' : 's'} of this resource ha${n === 1 ? 's' : 've'} no effect here (why: status.ignoredFields): ${next.map((f) => f.field).join(', ')}`;
}
