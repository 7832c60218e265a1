// Operator Lifecycle Manager (OLM v0) on the local cluster, for the OLM e2e
// test: what runs (olm-operator and catalog-operator as pods, a file-based
// catalog served by `opm serve` in a pod behind a Service, a CatalogSource by
// address) and the bundles it serves. Everything listens inside pods; nothing
// binds on the host. Pure builders here; the I/O is in the test.
import type { KubernetesObject } from '@kubernetes/client-node';
import yaml from 'js-yaml';
import { PACKAGE_NAME, csvName, type ClusterServiceVersion } from '../../operator/deploy/csv.js';
import { OLM_CHANNEL } from '../../operator/deploy/install-settings.js';
import { toYaml } from '../../operator/deploy/manifests.js';

/** A manifest to apply: any kind, typed loosely on purpose (OLM's kinds have no client types). */
export type Manifest = KubernetesObject & Record<string, unknown>;

export const OLM_NAMESPACE = 'olm';
export const CATALOG = { name: 'vault-autopilot-catalog', port: 50051 } as const;
/** olm, catalog, cpb and opm in one image (test/olm/build.sh olm-image). */
export const OLM_IMAGE = 'localhost/vault-autopilot-test/olm:v0.38.0';
export const BUNDLE_REPOSITORY = 'localhost/vault-autopilot-test/bundle';

const OLM_USER = 1001;
const restricted = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ['ALL'] },
};

function operatorDeployment(name: string, command: string[]): Manifest {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: OLM_NAMESPACE, labels: { app: name } },
    spec: {
      replicas: 1,
      strategy: { type: 'Recreate' },
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          serviceAccountName: 'olm-operator-serviceaccount',
          securityContext: { runAsNonRoot: true, runAsUser: OLM_USER, seccompProfile: { type: 'RuntimeDefault' } },
          volumes: [{ name: 'tmp', emptyDir: {} }],
          containers: [
            {
              name,
              image: OLM_IMAGE,
              imagePullPolicy: 'Never',
              command,
              env: [
                { name: 'OPERATOR_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
                { name: 'OPERATOR_NAME', value: name },
              ],
              // health and metrics on :8080 inside the pod only
              ports: [{ name: 'metrics', containerPort: 8080 }],
              readinessProbe: { httpGet: { path: '/healthz', port: 8080 } },
              resources: { requests: { cpu: '10m', memory: '96Mi' } },
              securityContext: restricted,
              volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
              terminationMessagePolicy: 'FallbackToLogsOnError',
            },
          ],
        },
      },
    },
  };
}

/** OLM's two operators with the RBAC upstream OLM gives them (cluster-wide, all resources). */
export function olmControlPlane(): Manifest[] {
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: OLM_NAMESPACE } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'olm-operator-serviceaccount', namespace: OLM_NAMESPACE } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'system:controller:operator-lifecycle-manager' },
      rules: [
        { apiGroups: ['*'], resources: ['*'], verbs: ['watch', 'list', 'get', 'create', 'update', 'patch', 'delete', 'deletecollection', 'escalate', 'bind'] },
        { nonResourceURLs: ['*'], verbs: ['*'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: `olm-operator-binding-${OLM_NAMESPACE}` },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:controller:operator-lifecycle-manager' },
      subjects: [{ kind: 'ServiceAccount', name: 'olm-operator-serviceaccount', namespace: OLM_NAMESPACE }],
    },
    operatorDeployment('olm-operator', ['/bin/olm', '--namespace', OLM_NAMESPACE, '--writeStatusName', '', '--writePackageServerStatusName', '']),
    operatorDeployment('catalog-operator', [
      '/bin/catalog', '--namespace', OLM_NAMESPACE, '--writeStatusName', '',
      // the bundle unpack job: util image (cpb), opm image (extract); all local
      '--util-image', OLM_IMAGE, '--opmImage', OLM_IMAGE, '--configmapServerImage', OLM_IMAGE,
      '--set-workload-user-id=true',
    ]),
  ];
}

export interface CatalogBundle {
  /** `opm render <bundle dir> -o json` output (one olm.bundle object; image ""). */
  rendered: Record<string, unknown>;
  /** Bundle image by digest: OLM pulls a tag every time, a digest only when absent. */
  image: string;
  /** CSV name this bundle replaces in the channel. */
  replaces?: string;
}

/** A file-based catalog (FBC, YAML stream): the package, one channel, its bundles. */
export function fileBasedCatalog(bundles: CatalogBundle[]): string {
  const docs: unknown[] = [
    { schema: 'olm.package', name: PACKAGE_NAME, defaultChannel: OLM_CHANNEL },
    {
      schema: 'olm.channel',
      package: PACKAGE_NAME,
      name: OLM_CHANNEL,
      entries: bundles.map((b) => ({ name: b.rendered['name'] as string, ...(b.replaces ? { replaces: b.replaces } : {}) })),
    },
    ...bundles.map((b) => ({ ...b.rendered, image: b.image })),
  ];
  return docs.map((d) => `---\n${yaml.dump(d, { lineWidth: -1, noRefs: true })}`).join('');
}

/** `opm serve` of a catalog held in a ConfigMap, a Service in front, and the CatalogSource pointing at it. */
export function catalogServer(catalogYaml: string): Manifest[] {
  const labels = { app: CATALOG.name };
  return [
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: CATALOG.name, namespace: OLM_NAMESPACE }, data: { 'catalog.yaml': catalogYaml } },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: CATALOG.name, namespace: OLM_NAMESPACE, labels },
      spec: {
        replicas: 1,
        strategy: { type: 'Recreate' },
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            securityContext: { runAsNonRoot: true, runAsUser: OLM_USER, seccompProfile: { type: 'RuntimeDefault' } },
            volumes: [
              { name: 'source', configMap: { name: CATALOG.name } },
              { name: 'configs', emptyDir: {} },
              { name: 'cache', emptyDir: {} },
            ],
            // A ConfigMap volume also holds timestamped ..data copies, which opm
            // would read as a second catalog: copy just the file.
            initContainers: [
              {
                name: 'copy',
                image: OLM_IMAGE,
                imagePullPolicy: 'Never',
                command: ['/bin/sh', '-c', `mkdir -p /configs/${PACKAGE_NAME} && cp /source/catalog.yaml /configs/${PACKAGE_NAME}/catalog.yaml`],
                securityContext: restricted,
                volumeMounts: [
                  { name: 'source', mountPath: '/source' },
                  { name: 'configs', mountPath: '/configs' },
                ],
              },
            ],
            containers: [
              {
                name: 'opm',
                image: OLM_IMAGE,
                imagePullPolicy: 'Never',
                // no --cache-dir: with one, opm expects a cache built in advance; it builds one under /tmp
                command: ['/bin/opm', 'serve', '/configs', '--port', String(CATALOG.port)],
                ports: [{ name: 'grpc', containerPort: CATALOG.port }],
                readinessProbe: { tcpSocket: { port: CATALOG.port } },
                resources: { requests: { cpu: '10m', memory: '64Mi' } },
                securityContext: restricted,
                volumeMounts: [
                  { name: 'configs', mountPath: '/configs' },
                  { name: 'cache', mountPath: '/tmp' },
                ],
              },
            ],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: CATALOG.name, namespace: OLM_NAMESPACE },
      spec: { selector: labels, ports: [{ name: 'grpc', port: CATALOG.port, targetPort: CATALOG.port }] },
    },
    {
      apiVersion: 'operators.coreos.com/v1alpha1',
      kind: 'CatalogSource',
      metadata: { name: CATALOG.name, namespace: OLM_NAMESPACE },
      spec: {
        sourceType: 'grpc',
        address: `${CATALOG.name}.${OLM_NAMESPACE}.svc:${CATALOG.port}`,
        displayName: 'vault-autopilot (local test catalog)',
        publisher: 'vault-autopilot',
      },
    },
  ];
}

/**
 * The next release's bundle made from this one: CSV `<package>.v<version>`
 * with spec.version bumped and `replaces` the previous CSV, everything else
 * (image, CRDs, RBAC) the same. `files` as generatedFiles('bundle') returns.
 */
export function nextBundle(files: Map<string, string>, version: string): Map<string, string> {
  const next = new Map(files);
  const csvPath = [...files.keys()].find((p) => p.endsWith('.clusterserviceversion.yaml'))!;
  const csv = yaml.load(files.get(csvPath)!) as ClusterServiceVersion & { spec: { replaces?: string } };
  const previous = csv.metadata.name;
  csv.metadata.name = csvName(version);
  csv.spec.version = version;
  csv.spec.replaces = previous;
  next.set(csvPath, toYaml(csv));
  return next;
}

/**
 * OperatorGroup (all namespaces: no targetNamespaces) and an automatic
 * Subscription in `namespace`; `envFrom` (Secrets/ConfigMaps) goes to the
 * operator's container through the Subscription's config.
 */
export function subscription(namespace: string, envFrom: Record<string, unknown>[] = []): Manifest[] {
  return [
    { apiVersion: 'operators.coreos.com/v1', kind: 'OperatorGroup', metadata: { name: PACKAGE_NAME, namespace }, spec: {} },
    {
      apiVersion: 'operators.coreos.com/v1alpha1',
      kind: 'Subscription',
      metadata: { name: PACKAGE_NAME, namespace },
      spec: {
        channel: OLM_CHANNEL,
        name: PACKAGE_NAME,
        source: CATALOG.name,
        sourceNamespace: OLM_NAMESPACE,
        installPlanApproval: 'Automatic',
        ...(envFrom.length ? { config: { envFrom } } : {}),
      },
    },
  ];
}
