// The OLM ClusterServiceVersion, built from the same sources as install.yaml:
// crds/ (owned CRDs + descriptors), the RBAC list, the Deployment, the webhook
// definition and samples/ (alm-examples). Pure: data in, a CSV object out.

import type { KubernetesObject, V1CustomResourceDefinition, V1DeploymentSpec, V1PolicyRule } from '@kubernetes/client-node';
import { deployment } from './deployment.js';
import { specDescriptors, statusDescriptors, storageVersion, humanize, shortDescription, rootSchema, type Descriptor } from './descriptors.js';
import { ICON_MEDIATYPE, iconBase64 } from './icon.js';
import { InstallMode, NAME, type InstallSettings } from './install-settings.js';
import { Scope, operatorPermissions, policyRules } from './rbac.js';
import { DEFAULT_VAULT_IMAGE } from '../controllers/vault/desired-objects.js';
import { DEFAULT_AGENT_IMAGE } from '../webhook/settings.js';
import { olmWebhookDefinition, type OlmWebhookDefinition } from './webhook.js';

export const PACKAGE_NAME = 'vault-autopilot';

/**
 * x-kubernetes-validations (CEL) in crds/ are on by default from 1.25; no API
 * the operator calls is newer or removed since.
 */
export const MIN_KUBE_VERSION = '1.25.0';

/** Operator capability level: installs, configures and upgrades Vault; no backup/restore (Full Lifecycle) yet. */
export const CAPABILITY = 'Seamless Upgrades';

/** Release facts that are not derivable from the code. Bump createdAt with the version. */
export const RELEASE = {
  createdAt: '2026-11-28T00:00:00Z',
  repository: 'https://github.com/vault-autopilot/vault-autopilot',
  support: 'vault-autopilot maintainers',
  provider: { name: 'vault-autopilot', url: 'https://github.com/vault-autopilot' },
  maintainers: [{ name: 'vault-autopilot maintainers', email: 'maintainers@vault-autopilot.dev' }],
  links: [
    { name: 'Source code', url: 'https://github.com/vault-autopilot/vault-autopilot' },
    { name: 'Documentation', url: 'https://github.com/vault-autopilot/vault-autopilot#readme' },
  ],
  keywords: ['vault', 'openbao', 'secrets', 'kms', 'unseal', 'kubernetes-auth', 'vault-agent', 'raspberry-pi'],
  maturity: 'alpha',
} as const;

const SUMMARY = 'Self-service HashiCorp Vault on Kubernetes: deploys and unseals Vault, configures it from CRs, writes KMS-encrypted secrets and injects Vault Agent.';

const LONG_DESCRIPTION = `vault-autopilot makes HashiCorp Vault (and OpenBao) self-service on Kubernetes, with no human in the loop after the first install.

* **Vault** -- deploys a Vault cluster (or adopts an existing one), initialises it, keeps it unsealed and continuously applies \`spec.externalConfig\`: auth methods, Kubernetes-auth roles, policies, secret engines and audit devices, removing what it once applied and the resource no longer lists.
* **ServiceAccount auto-configuration** -- a ServiceAccount annotated \`vault.autopilot.dev/auto-configure: "true"\` gets a Kubernetes-auth role and policy in its Vault.
* **KMSVaultSecret / PartialKMSVaultSecret** -- AWS-KMS ciphertext kept in git is decrypted in memory and written to Vault KV v1/v2, kept there (drift correction) and removed on delete.
* **Pod webhook** -- pods annotated \`vault.autopilot.dev/*\` get a Vault Agent (init and/or sidecar) and, on request, \`VAULT_ADDR\`/\`VAULT_CACERT\` and the CA volume.

Runs on amd64 and arm64 (Raspberry Pi 4 with a 64-bit OS), as a non-root user with a read-only root filesystem.`;

export interface OwnedCrd {
  name: string;
  version: string;
  kind: string;
  displayName: string;
  description: string;
  resources?: { kind: string; name: string; version: string }[];
  specDescriptors: Descriptor[];
  statusDescriptors: Descriptor[];
}

/** What a managed Vault creates (shown by OLM consoles as the CR's children). */
const VAULT_CHILD_RESOURCES = [
  { kind: 'StatefulSet', name: '', version: 'v1' },
  { kind: 'Service', name: '', version: 'v1' },
  { kind: 'Secret', name: '', version: 'v1' },
  { kind: 'ServiceAccount', name: '', version: 'v1' },
  { kind: 'PodDisruptionBudget', name: '', version: 'v1' },
];

export function ownedCrd(crd: V1CustomResourceDefinition): OwnedCrd {
  const kind = crd.spec.names.kind;
  return {
    name: crd.metadata!.name!,
    version: storageVersion(crd).name,
    kind,
    displayName: humanize(kind),
    description: shortDescription(rootSchema(crd).description, humanize(kind)),
    ...(kind === 'Vault' ? { resources: VAULT_CHILD_RESOURCES } : {}),
    specDescriptors: specDescriptors(crd),
    statusDescriptors: statusDescriptors(crd),
  };
}

/** The samples whose kind the bundle owns, without namespaces (the console creates them where the user is). */
export function almExamples(samples: KubernetesObject[], crds: V1CustomResourceDefinition[]): KubernetesObject[] {
  const owned = new Set(crds.flatMap((c) => c.spec.versions.map((v) => `${c.spec.group}/${v.name}/${c.spec.names.kind}`)));
  return samples
    .filter((s) => owned.has(`${s.apiVersion}/${s.kind}`))
    .map((s) => {
      const { namespace: _namespace, ...metadata } = s.metadata ?? {};
      return { ...s, metadata };
    })
    .sort((a, b) => `${a.kind}/${a.metadata?.name}`.localeCompare(`${b.kind}/${b.metadata?.name}`));
}

/** Every image the operator runs or deploys (disconnected mirroring), each once. */
export function relatedImages(operatorImage: string): { name: string; image: string }[] {
  const images = [
    { name: 'vault-autopilot', image: operatorImage },
    { name: 'vault', image: DEFAULT_VAULT_IMAGE },
    { name: 'vault-agent', image: DEFAULT_AGENT_IMAGE },
  ];
  return images.filter((entry, i) => images.findIndex((other) => other.image === entry.image) === i);
}

export function csvName(version: string): string {
  return `${PACKAGE_NAME}.v${version}`;
}

export interface ClusterServiceVersion {
  apiVersion: 'operators.coreos.com/v1alpha1';
  kind: 'ClusterServiceVersion';
  metadata: { name: string; annotations: Record<string, string>; labels: Record<string, string> };
  spec: {
    displayName: string;
    description: string;
    version: string;
    minKubeVersion: string;
    maturity: string;
    provider: { name: string; url: string };
    maintainers: { name: string; email: string }[];
    links: { name: string; url: string }[];
    keywords: string[];
    icon: { base64data: string; mediatype: string }[];
    installModes: { type: string; supported: boolean }[];
    install: {
      strategy: 'deployment';
      spec: {
        deployments: { name: string; label?: Record<string, string>; spec: V1DeploymentSpec }[];
        permissions: { serviceAccountName: string; rules: V1PolicyRule[] }[];
        clusterPermissions: { serviceAccountName: string; rules: V1PolicyRule[] }[];
      };
    };
    customresourcedefinitions: { owned: OwnedCrd[] };
    webhookdefinitions: OlmWebhookDefinition[];
    relatedImages: { name: string; image: string }[];
  };
}

export function clusterServiceVersion(settings: InstallSettings, crds: V1CustomResourceDefinition[], samples: KubernetesObject[]): ClusterServiceVersion {
  if (settings.mode !== InstallMode.Olm) throw new Error('the CSV describes the OLM install');
  const permissions = operatorPermissions(settings);
  // OLM creates `permissions` as a Role in the operator's namespace, copies it
  // into every target namespace, and lifts it to a ClusterRole for AllNamespaces.
  const namespaceRules = policyRules(permissions, [Scope.Watched, Scope.OperatorNamespace]);
  const operatorDeployment = deployment(settings);
  return {
    apiVersion: 'operators.coreos.com/v1alpha1',
    kind: 'ClusterServiceVersion',
    metadata: {
      name: csvName(settings.version),
      annotations: {
        'alm-examples': JSON.stringify(almExamples(samples, crds), null, 2),
        capabilities: CAPABILITY,
        categories: 'Security',
        certified: 'false',
        containerImage: settings.image,
        createdAt: RELEASE.createdAt,
        description: SUMMARY,
        repository: RELEASE.repository,
        support: RELEASE.support,
        'operators.operatorframework.io/builder': 'vault-autopilot operator/deploy/generate.ts',
        'features.operators.openshift.io/disconnected': 'false',
        'features.operators.openshift.io/fips-compliant': 'false',
        'features.operators.openshift.io/proxy-aware': 'false',
        'features.operators.openshift.io/tls-profiles': 'false',
        'features.operators.openshift.io/token-auth-aws': 'false',
        'features.operators.openshift.io/token-auth-azure': 'false',
        'features.operators.openshift.io/token-auth-gcp': 'false',
      },
      labels: {
        'operatorframework.io/arch.amd64': 'supported',
        'operatorframework.io/arch.arm64': 'supported',
        'operatorframework.io/os.linux': 'supported',
      },
    },
    spec: {
      displayName: 'Vault Autopilot',
      description: LONG_DESCRIPTION,
      version: settings.version,
      minKubeVersion: MIN_KUBE_VERSION,
      maturity: RELEASE.maturity,
      provider: { ...RELEASE.provider },
      maintainers: RELEASE.maintainers.map((m) => ({ ...m })),
      links: RELEASE.links.map((l) => ({ ...l })),
      keywords: [...RELEASE.keywords],
      icon: [{ base64data: iconBase64(), mediatype: ICON_MEDIATYPE }],
      // Every lifecycle watches only olm.targetNamespaces (VAULT_AUTOPILOT_WATCH_NAMESPACES);
      // OLM selects the webhook's namespaces from the OperatorGroup.
      installModes: [
        { type: 'OwnNamespace', supported: true },
        { type: 'SingleNamespace', supported: true },
        { type: 'MultiNamespace', supported: true },
        { type: 'AllNamespaces', supported: true },
      ],
      install: {
        strategy: 'deployment',
        spec: {
          deployments: [{ name: NAME.deployment, label: operatorDeployment.metadata!.labels!, spec: operatorDeployment.spec! }],
          permissions: namespaceRules.length ? [{ serviceAccountName: NAME.serviceAccount, rules: namespaceRules }] : [],
          clusterPermissions: [{ serviceAccountName: NAME.serviceAccount, rules: policyRules(permissions, Scope.Cluster) }],
        },
      },
      customresourcedefinitions: { owned: crds.map(ownedCrd) },
      webhookdefinitions: [olmWebhookDefinition(settings)],
      relatedImages: relatedImages(settings.image),
    },
  };
}
