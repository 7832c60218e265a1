// Wiring of the pod webhook: the HTTPS server with its certificate source,
// and the pod handler registered through the framework.
//
//   const server = createWebhookServer(settings, kube, logger);   // -> AutopilotOperator({ webhookServer: server })
//   const pod = await registerPodWebhook(operator, { settings });  // before operator.start()

import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { VersionApi } from '@kubernetes/client-node';
import {
  type AutopilotOperator,
  type CertificateSource,
  errorMessage,
  FileCertificateSource,
  type KubeClients,
  metrics as defaultMetrics,
  type OperatorMetrics,
  type RotationPolicy,
  SelfManagedCertificates,
  type WebhookLog,
  WebhookServer,
} from '../framework/index.js';
import type { ExternalVaultTrust } from '../controllers/vault/trust.js';
import { CaConfigMaps } from './ca-configmap.js';
import { WebhookConfigurationPublisher } from './configuration.js';
import { PodAnnotation } from './annotations.js';
import { createPodAdmissionHandler } from './handler.js';
import { mutatePod } from './mutate.js';
import { supportsNativeSidecars, WEBHOOK_PATH, type WebhookSettings } from './settings.js';
import { cachedNamespaceLabels, cachedResolver, kubeNamespaceLabels, kubeVaultResolver, type NamespaceLabels, type VaultResolver } from './vault-target.js';

export { parseWebhookSettings, WEBHOOK_SETTING, WEBHOOK_PATH, type WebhookSettings } from './settings.js';
export { desiredWebhookConfiguration, POD_WEBHOOK_NAME } from './configuration.js';
export { mutatePod, INJECTED_NAMES } from './mutate.js';
export { PodAnnotation } from './annotations.js';

/** DNS names / IPs the self-managed serving certificate must cover. */
export function servingNames(settings: Pick<WebhookSettings, 'serviceName' | 'operatorNamespace' | 'url'>): { dnsNames: string[]; ipAddresses: string[] } {
  const svc = settings.serviceName;
  const ns = settings.operatorNamespace;
  const dnsNames = [svc, `${svc}.${ns}`, `${svc}.${ns}.svc`, `${svc}.${ns}.svc.cluster.local`];
  const ipAddresses: string[] = [];
  if (settings.url) {
    const host = new URL(settings.url).hostname.replace(/^\[|\]$/g, '');
    if (isIP(host)) ipAddresses.push(host);
    else if (!dnsNames.includes(host)) dnsNames.push(host);
  }
  return { dnsNames, ipAddresses };
}

export function rotationPolicy(settings: WebhookSettings): RotationPolicy {
  return {
    caValidityMs: settings.caValidityMs,
    servingValidityMs: settings.servingValidityMs,
    renewBeforeFraction: 1 / 3,
    propagationMs: settings.rotationPropagationMs,
    commonName: settings.serviceName,
    ...servingNames(settings),
  };
}

/**
 * The admission HTTPS server. File certificates (OLM / cert-manager mount) by
 * default; with `selfManagedCerts`, a CA + serving certificate in a Secret and
 * the caBundle of the MutatingWebhookConfiguration kept current.
 */
export function createWebhookServer(
  settings: WebhookSettings,
  kube: Pick<KubeClients, 'core' | 'admission'>,
  log: WebhookLog,
  metrics: OperatorMetrics = defaultMetrics,
): WebhookServer {
  let certificates: CertificateSource;
  if (settings.selfManagedCerts) {
    certificates = new SelfManagedCertificates({
      core: kube.core,
      namespace: settings.operatorNamespace,
      secretName: settings.certSecretName,
      publisher: new WebhookConfigurationPublisher(kube.admission, settings, settings.manageConfiguration),
      policy: rotationPolicy(settings),
      log,
      maxCheckIntervalMs: settings.certCheckIntervalMs,
    });
  } else {
    certificates = new FileCertificateSource({ dir: settings.certDir, pollIntervalMs: settings.certReloadIntervalMs, log });
  }
  return new WebhookServer({
    port: settings.port,
    host: settings.host,
    // read once: a new client CA takes a restart (it changes who may call, not a rotation)
    ...(settings.clientCaFile ? { clientAuth: { ca: readFileSync(settings.clientCaFile, 'utf8'), names: settings.clientNames } } : {}),
    ...settings.limits,
    certificates,
    log,
    observe: ({ path, durationMs, allowed }) => {
      metrics.webhookAdmissions.inc({ path, result: allowed === undefined ? 'error' : allowed ? 'allowed' : 'denied' });
      metrics.webhookLatency.observe({ path }, durationMs / 1000);
    },
  });
}

export interface PodWebhook {
  nativeSidecars: boolean;
  caConfigMaps: CaConfigMaps;
}

/** Reads the apiserver's version; undefined when it cannot (then native sidecars stay off in "auto"). */
export async function detectServerVersion(kube: Pick<KubeClients, 'kubeConfig'>): Promise<{ major: string; minor: string } | undefined> {
  try {
    const info = await kube.kubeConfig.makeApiClient(VersionApi).getCode();
    return { major: info.major, minor: info.minor };
  } catch {
    return undefined;
  }
}

/**
 * Reads, before the webhook serves (registration runs before the server
 * listens), what the first admissions would otherwise wait for: the first pod
 * after a start took 40-60 ms on an idle machine, most of it reads on new
 * connections and code running for the first time. Best effort: a failure or
 * a slow apiserver (WARM_UP_MS) only leaves the work to the first admission.
 */
async function warmUp(log: Pick<AutopilotOperator['logger'], 'debug'>, steps: Array<[string, () => Promise<unknown>]>): Promise<void> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, WARM_UP_MS)));
  const all = Promise.all(steps.map(([what, step]) => step().catch((err: unknown) => log.debug('pod webhook warm-up step failed', { what, error: errorMessage(err) }))));
  await Promise.race([all, deadline]);
  clearTimeout(timer);
  log.debug('pod webhook warmed up', { ms: Math.round(performance.now() - started) });
}
const WARM_UP_MS = 3_000;

/** A pod asking for everything the webhook injects, and the settings that mutate it (no namespace skipped). */
function warmUpPod(settings: WebhookSettings, nativeSidecars: boolean): Parameters<typeof mutatePod> {
  const p = settings.annotationPrefix;
  const pod = {
    metadata: { name: 'warm-up', annotations: { [`${p}${PodAnnotation.AgentInject}`]: 'true', [`${p}agent-inject-secret-warm-up`]: 'secret/data/warm-up', [`${p}${PodAnnotation.InjectEnv}`]: 'app' } },
    spec: { serviceAccountName: 'warm-up', containers: [{ name: 'app', image: 'warm-up' }] },
  };
  const { watchNamespaces: _all, ...unscoped } = settings;
  return [pod, 'warm-up', { ...unscoped, skipNamespaces: [], nativeSidecars, vault: { address: 'https://vault.warm-up.svc:8200', caConfigMapName: 'warm-up' } }];
}

/** Registers the pod mutator at WEBHOOK_PATH and starts the CA ConfigMap sync. Call before `operator.start()`. */
export async function registerPodWebhook(
  operator: AutopilotOperator,
  deps: {
    settings: WebhookSettings;
    nativeSidecars?: boolean;
    resolveVault?: VaultResolver;
    namespaceLabels?: NamespaceLabels;
    vaultCacheTtlMs?: number;
    /** External Vaults whose address and CA may go into pods (the operator's one list, trust.ts); default none. */
    trust?: ExternalVaultTrust;
  },
): Promise<PodWebhook> {
  const { settings } = deps;
  const log = operator.logger;
  let nativeSidecars = deps.nativeSidecars;
  if (nativeSidecars === undefined) {
    const version = settings.nativeSidecars === 'auto' ? await detectServerVersion(operator.kube) : undefined;
    nativeSidecars = supportsNativeSidecars(settings.nativeSidecars, version);
    log.info('pod webhook: sidecar mode chosen', { nativeSidecars, mode: settings.nativeSidecars, serverVersion: version ? `${version.major}.${version.minor}` : undefined });
  }
  const uncached = deps.resolveVault ?? kubeVaultResolver(operator.kube, deps.trust);
  const labels = deps.namespaceLabels ?? kubeNamespaceLabels(operator.kube.core);
  const ttlMs = deps.vaultCacheTtlMs ?? 10_000;
  const caConfigMaps = new CaConfigMaps({
    core: operator.kube.core,
    resolve: uncached,
    namespaceLabels: labels,
    log,
    ...(settings.watchNamespaces ? { namespaces: settings.watchNamespaces } : {}),
  });
  const resolveVault = cachedResolver(uncached, ttlMs);
  await warmUp(log, [
    // the Vault nearly every pod names (10 s in the cache), and the code and apiserver connection that read it
    ['default Vault', () => resolveVault(settings.defaultVault)],
    ['CA ConfigMaps', () => caConfigMaps.load()],
    // the mutation's code (annotations, agent config, the patch diff) compiled on a sample pod: pure, no I/O
    ['mutation', async () => mutatePod(...warmUpPod(settings, nativeSidecars))],
  ]);
  operator.registerMutatingWebhook(
    WEBHOOK_PATH,
    createPodAdmissionHandler({
      settings,
      nativeSidecars,
      resolveVault,
      namespaceLabels: cachedNamespaceLabels(labels, ttlMs),
      ensureCa: (namespace, vault, caPem, opts) => caConfigMaps.ensure(namespace, vault, caPem, opts),
      log,
    }),
  );
  // admissions create what their pod needs on any replica; the periodic sync is
  // the leader's job: a task on the framework's queue (runs only while leading)
  operator.every('vault-ca-configmaps', settings.caSyncIntervalMs, async () => {
    const r = await caConfigMaps.syncAll();
    if (r.updated > 0 || r.refused > 0) log.info('Vault CA ConfigMaps synced', r);
  });
  return { nativeSidecars, caConfigMaps };
}
