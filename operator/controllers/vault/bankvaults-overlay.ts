// Bank-Vaults' pod- and Service-level fields applied to the desired managed
// objects (pure functions of the resource). desired-objects.ts builds the
// operator's own objects; this module lays the user's fields over them.
import type {
  KubernetesObject,
  V1Affinity,
  V1Container,
  V1EnvVar,
  V1Ingress,
  V1OwnerReference,
  V1PodSpec,
  V1ResourceRequirements,
  V1Service,
  V1ServicePort,
  V1StatefulSet,
  V1Volume,
  V1VolumeMount,
} from '@kubernetes/client-node';
import type { VaultResource, VaultSpec } from '../../api/vault.js';

/**
 * The Vault container's resources: Bank-Vaults' `resources.vault`, or the
 * flat `{limits, requests, claims}` this operator accepted before (the CRD
 * refuses both at once).
 */
export function vaultContainerResources(spec: VaultSpec): V1ResourceRequirements | undefined {
  const r = spec.resources;
  if (!r) return undefined;
  if (r.vault) return r.vault;
  const flat: V1ResourceRequirements = {
    ...(r.limits ? { limits: r.limits } : {}),
    ...(r.requests ? { requests: r.requests } : {}),
    ...(r.claims ? { claims: r.claims } : {}),
  };
  return Object.keys(flat).length ? flat : undefined;
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Bank-Vaults' container-snippet merge: the snippet's values win, lists are appended, objects merge. */
export function mergeOverride(base: Obj, over: Obj): Obj {
  const out: Obj = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined || v === null) continue;
    const b = out[k];
    if (Array.isArray(v) && Array.isArray(b)) out[k] = [...b, ...v];
    else if (isObj(v) && isObj(b)) out[k] = mergeOverride(b, v);
    else out[k] = v;
  }
  return out;
}

/** Bank-Vaults' pod-snippet merge: fields the operator left empty are set, lists are appended, objects merge; the operator's own values stay. */
export function mergeFill(base: Obj, over: Obj): Obj {
  const out: Obj = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined || v === null) continue;
    const b = out[k];
    if (Array.isArray(v) && Array.isArray(b)) out[k] = [...b, ...v];
    else if (isObj(v) && isObj(b)) out[k] = mergeFill(b, v);
    else if (b === undefined || b === null || b === '') out[k] = v;
  }
  return out;
}

/** Items with a `name`: later ones replace earlier ones of the same name, in place; new names are appended. */
export function mergeByName<T extends { name?: string }>(base: readonly T[], extra: readonly T[] | undefined): T[] {
  const out = [...base];
  for (const item of extra ?? []) {
    const i = out.findIndex((o) => o.name === item.name);
    if (i >= 0) out[i] = item;
    else out.push(item);
  }
  return out;
}

// Bank-Vaults renamed these when it moved vaultEnvsConfig to secretInitsConfig
const DEPRECATED_ENV_NAMES: Record<string, string> = {
  VAULT_JSON_LOG: 'SECRET_INIT_JSON_LOG',
  VAULT_ENV_LOG_SERVER: 'SECRET_INIT_LOG_SERVER',
  VAULT_ENV_DAEMON: 'SECRET_INIT_DAEMON',
  VAULT_ENV_DELAY: 'SECRET_INIT_DELAY',
  VAULT_ENV_FROM_PATH: 'VAULT_FROM_PATH',
  VAULT_ENV_PASSTHROUGH: 'VAULT_PASSTHROUGH',
};

/** Environment the user adds to the Vault container (secretInitsConfig, vaultEnvsConfig renamed, credentialsConfig.env). */
export function vaultContainerEnv(spec: VaultSpec): V1EnvVar[] {
  const renamed = (spec.vaultEnvsConfig ?? []).map((e) => (DEPRECATED_ENV_NAMES[e.name] ? { ...e, name: DEPRECATED_ENV_NAMES[e.name]! } : e));
  const credentials = spec.credentialsConfig?.env ? [{ name: spec.credentialsConfig.env, value: spec.credentialsConfig.path ?? '' }] : [];
  return [...credentials, ...(spec.secretInitsConfig ?? []), ...renamed];
}

function credentialsVolume(spec: VaultSpec): { volume?: V1Volume; mount?: V1VolumeMount } {
  const c = spec.credentialsConfig;
  if (!c?.secretName) return {};
  const path = c.path ?? '';
  const file = path.split('/').filter(Boolean).pop();
  return {
    volume: { name: c.secretName, secret: { secretName: c.secretName } },
    ...(path ? { mount: { name: c.secretName, mountPath: path, ...(file ? { subPath: file } : {}), readOnly: true } } : {}),
  };
}

/** Client Service ports: servicePorts by name (sorted, as Bank-Vaults), keeping the API and cluster ports when not listed. */
export function clientServicePorts(spec: VaultSpec, defaults: readonly V1ServicePort[]): V1ServicePort[] {
  const listed = Object.entries(spec.servicePorts ?? {}).sort(([a], [b]) => a.localeCompare(b));
  if (!listed.length) return [...defaults];
  const ports: V1ServicePort[] = listed.map(([name, port]) => ({ name, port, targetPort: port as unknown as V1ServicePort['targetPort'], protocol: 'TCP' }));
  const kept = defaults.filter((d) => !ports.some((p) => p.port === d.port || p.name === d.name));
  return [...kept, ...ports];
}

/** The pod anti-/node affinity of Bank-Vaults' deprecated fields, when spec.affinity is not set. */
export function bankVaultsAffinity(spec: VaultSpec, selector: Record<string, string>, fallback: V1Affinity): V1Affinity {
  if (spec.affinity) return spec.affinity;
  if (!spec.podAntiAffinity && !spec.nodeAffinity) return fallback;
  return {
    ...(spec.podAntiAffinity
      ? { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: spec.podAntiAffinity, labelSelector: { matchLabels: selector } }] } }
      : fallback.podAntiAffinity
        ? { podAntiAffinity: fallback.podAntiAffinity }
        : {}),
    ...(spec.nodeAffinity ? { nodeAffinity: spec.nodeAffinity } : {}),
  };
}

const withMeta = (obj: KubernetesObject, annotations: Record<string, string>, labels: Record<string, string>): void => {
  const meta = (obj.metadata ??= {});
  if (Object.keys(annotations).length) meta.annotations = { ...annotations, ...(meta.annotations ?? {}) };
  // the operator's labels (selectors, ownership) win
  if (Object.keys(labels).length) meta.labels = { ...labels, ...(meta.labels ?? {}) };
};

/** Lays the Bank-Vaults fields of `vault` over the operator's StatefulSet (in place, returned). */
export function overlayStatefulSet(vault: VaultResource, sts: V1StatefulSet, selector: Record<string, string>): V1StatefulSet {
  const spec = vault.spec;
  withMeta(sts, { ...(spec.annotations ?? {}), ...(spec.vaultAnnotations ?? {}) }, spec.vaultLabels ?? {});
  const template = sts.spec!.template;
  // operator annotations (checksums) win; vaultAnnotations over the common ones
  template.metadata!.annotations = { ...(spec.annotations ?? {}), ...(spec.vaultAnnotations ?? {}), ...(template.metadata!.annotations ?? {}) };
  let pod = template.spec!;
  const credentials = credentialsVolume(spec);
  let vaultContainer = pod.containers[0]!;
  vaultContainer.env = [...(vaultContainer.env ?? []), ...vaultContainerEnv(spec)];
  vaultContainer.volumeMounts = mergeByName(vaultContainer.volumeMounts ?? [], [...(credentials.mount ? [credentials.mount] : []), ...(spec.volumeMounts ?? [])]);
  const extraPorts = Object.entries(spec.servicePorts ?? {})
    .filter(([, port]) => !(vaultContainer.ports ?? []).some((p) => p.containerPort === port))
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, port]) => ({ name: name.slice(0, 15), containerPort: port, protocol: 'TCP' }));
  if (extraPorts.length) vaultContainer.ports = [...(vaultContainer.ports ?? []), ...extraPorts];
  pod.volumes = mergeByName(pod.volumes ?? [], [...(credentials.volume ? [credentials.volume] : []), ...(spec.volumes ?? [])]);
  if (spec.vaultInitContainers?.length) pod.initContainers = [...(pod.initContainers ?? []), ...spec.vaultInitContainers];
  if (spec.vaultContainers?.length) pod.containers = [...pod.containers, ...spec.vaultContainers];
  if (spec.securityContext && Object.keys(spec.securityContext).length) pod.securityContext = spec.securityContext;
  if (spec.platformManagedSecurityContext) {
    delete pod.securityContext;
    delete vaultContainer.securityContext;
  }
  pod.affinity = bankVaultsAffinity(spec, selector, pod.affinity ?? {});
  if (spec.vaultPodSpec) {
    const { containers, initContainers, ...rest } = spec.vaultPodSpec;
    const byName = (own: V1Container[], snippet: V1Container[] | undefined) => {
      const merged = own.map((c) => {
        const s = snippet?.find((x) => x.name === c.name);
        return s ? (mergeOverride(c as unknown as Obj, s as unknown as Obj) as unknown as V1Container) : c;
      });
      // a snippet for a container that is not here and has no image overrode a Bank-Vaults container (reported)
      return [...merged, ...(snippet ?? []).filter((s) => !own.some((c) => c.name === s.name) && s.image)];
    };
    pod.containers = byName(pod.containers, containers);
    if (initContainers?.length) pod.initContainers = byName(pod.initContainers ?? [], initContainers);
    pod = mergeFill(pod as unknown as Obj, rest as unknown as Obj) as unknown as V1PodSpec;
    template.spec = pod;
    vaultContainer = pod.containers[0]!;
  }
  if (spec.vaultContainerSpec && Object.keys(spec.vaultContainerSpec).length) {
    // the container keeps its name: the operator finds it by name
    const { name: _name, ...snippet } = spec.vaultContainerSpec;
    pod.containers[0] = mergeOverride(vaultContainer as unknown as Obj, snippet as Obj) as unknown as V1Container;
  }
  return sts;
}

/** Lays Bank-Vaults' Service fields over the client (or peer) Service, in place. */
export function overlayService(vault: VaultResource, service: V1Service, client: boolean): V1Service {
  const spec = vault.spec;
  withMeta(service, { ...(spec.annotations ?? {}), ...(spec.vaultAnnotations ?? {}) }, spec.vaultLabels ?? {});
  if (client) {
    if (spec.serviceMonitorEnabled) service.metadata!.labels = { ...(service.metadata!.labels ?? {}), [CLIENT_SERVICE_LABEL]: 'true' };
    service.spec!.ports = clientServicePorts(spec, service.spec!.ports ?? []);
    if (spec.loadBalancerIP) service.spec!.loadBalancerIP = spec.loadBalancerIP;
  }
  return service;
}

/** `spec.annotations` on every other object the operator makes (Bank-Vaults' common annotations). */
export function overlayCommon(vault: VaultResource, obj: KubernetesObject): KubernetesObject {
  withMeta(obj, vault.spec.annotations ?? {}, {});
  return obj;
}

/** The Ingress of spec.ingress, named like the Vault. */
export function desiredIngress(vault: VaultResource, meta: { namespace: string; labels: Record<string, string>; ownerReferences: V1OwnerReference[] }): V1Ingress | undefined {
  const ingress = vault.spec.ingress;
  if (!ingress) return undefined;
  const annotations = { ...(vault.spec.annotations ?? {}), ...(ingress.annotations ?? {}) };
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name: vault.metadata!.name!, ...meta, ...(Object.keys(annotations).length ? { annotations } : {}) },
    spec: ingress.spec ?? {},
  };
}

export const SERVICE_MONITOR_API = 'monitoring.coreos.com/v1';

/**
 * The Prometheus Operator ServiceMonitor of serviceMonitorEnabled: Vault's
 * /v1/sys/metrics on the client Service's API port, over TLS checked against
 * the Vault CA. (Vault answers it without a token only with
 * listener.tcp.telemetry.unauthenticated_metrics_access in spec.config.)
 */
export function desiredServiceMonitor(
  vault: VaultResource,
  meta: { namespace: string; labels: Record<string, string>; ownerReferences: V1OwnerReference[] },
  selector: Record<string, string>,
  apiPortName: string,
  caSecret: string,
): KubernetesObject | undefined {
  if (!vault.spec.serviceMonitorEnabled) return undefined;
  const name = vault.metadata!.name!;
  return {
    apiVersion: SERVICE_MONITOR_API,
    kind: 'ServiceMonitor',
    metadata: { name, ...meta, ...(vault.spec.annotations ? { annotations: vault.spec.annotations } : {}) },
    spec: {
      selector: { matchLabels: { ...selector, [CLIENT_SERVICE_LABEL]: 'true' } },
      namespaceSelector: { matchNames: [meta.namespace] },
      endpoints: [
        {
          port: apiPortName,
          scheme: 'https',
          path: '/v1/sys/metrics',
          params: { format: ['prometheus'] },
          interval: '30s',
          tlsConfig: { ca: { secret: { name: caSecret, key: 'ca.crt' } }, serverName: `${name}.${meta.namespace}.svc` },
        },
      ],
    },
  } as KubernetesObject;
}

/** On the client Service only, so a ServiceMonitor does not also scrape the headless peer Service. */
export const CLIENT_SERVICE_LABEL = 'vault.autopilot.dev/client-service';

/** The client Service's port that serves the API (8200), by name. */
export function apiPortName(service: V1Service): string {
  return service.spec?.ports?.find((p) => p.port === 8200)?.name ?? 'api';
}

/** Objects the operator made for fields that are now unset: deleted when they exist and this Vault controls them. */
export function obsoleteObjects(vault: VaultResource): Array<{ apiVersion: string; kind: string; name: string; namespace: string }> {
  const namespace = vault.metadata!.namespace!;
  const name = vault.metadata!.name!;
  const out: Array<{ apiVersion: string; kind: string; name: string; namespace: string }> = [];
  if (!vault.spec.ingress) out.push({ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', name, namespace });
  // only when switched off explicitly: looking for one costs a discovery call where the CRD is not installed
  if (vault.spec.serviceMonitorEnabled === false) out.push({ apiVersion: SERVICE_MONITOR_API, kind: 'ServiceMonitor', name, namespace });
  return out;
}
