// The CSV's install modes through the real OLM (v0.38.0) on the local
// cluster: OwnNamespace, SingleNamespace and MultiNamespace, one after the
// other from the same catalog (AllNamespaces is test/e2e/olm.test.ts). For
// each: an OperatorGroup with those target namespaces and a Subscription ->
// CSV Succeeded; OLM's namespaced RBAC (the CSV's `permissions` copied into
// every target, nothing namespaced cluster-wide); the operator reads
// olm.targetNamespaces and acts on a ServiceAccount annotated in a target
// while one annotated outside the targets is left alone; the webhook, with
// OLM's namespace selector, answers for a target and not outside. Times per
// mode are logged.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import yaml from 'js-yaml';
import { useCluster } from '../harness/cluster.js';
import { eventually } from '../harness/eventually.js';
import { REPO_ROOT } from '../harness/versions.js';
import { generatedFiles } from '../../operator/deploy/generate.js';
import { csvName } from '../../operator/deploy/csv.js';
import { NAME } from '../../operator/deploy/install-settings.js';
import { subscription, type CatalogBundle, type Manifest } from '../olm/olm.js';
import { OlmOnCluster } from '../olm/on-cluster.js';

const cluster = useCluster(test);
const VERSION = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).version as string;
const CSV = csvName(VERSION);

interface Mode {
  type: 'OwnNamespace' | 'SingleNamespace' | 'MultiNamespace';
  operator: string;
  targets: string[];
  /** annotated too, but outside the targets */
  outside: string;
}
const MODES: Mode[] = [
  { type: 'OwnNamespace', operator: 'va-own', targets: ['va-own'], outside: 'va-outside' },
  { type: 'SingleNamespace', operator: 'va-single-op', targets: ['va-single'], outside: 'va-outside' },
  { type: 'MultiNamespace', operator: 'va-multi-op', targets: ['va-multi-a', 'va-multi-b'], outside: 'va-outside' },
];
const ALL_NAMESPACES = [...new Set(MODES.flatMap((m) => [m.operator, ...m.targets, m.outside]))];

interface Event { reason?: string; type?: string; involvedObject: { name?: string } }
interface Csv { status?: { phase?: string; reason?: string; message?: string } }

let olm: OlmOnCluster;
let catalogReady = false;
const times: Record<string, number> = {};

test.before(async () => {
  olm = new OlmOnCluster(cluster());
  const existing = await olm.k(['get', 'deployments', '-A', '-l', 'app.kubernetes.io/name=vault-autopilot', '-o', 'name']);
  if (existing.trim()) throw new Error(`vault-autopilot is already installed (${existing.trim()}); the OLM test needs a cluster without it`);
});

test.after.always(async () => {
  if (!olm) return;
  await olm.removeEverything(ALL_NAMESPACES);
  olm.dispose();
});

function namespace(name: string): Manifest {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name } };
}

/** An annotated ServiceAccount whose Vault (in its own namespace) does not exist: a watching operator says so in a Warning Event. */
function annotatedAccount(ns: string): Manifest {
  return {
    apiVersion: 'v1', kind: 'ServiceAccount',
    metadata: { name: 'probe', namespace: ns, annotations: { 'vault.autopilot.dev/auto-configure': 'true', 'vault.autopilot.dev/vault': `${ns}/absent` } },
  };
}

async function probeEvents(ns: string): Promise<Event[]> {
  const list = await olm.getJson<{ items: Event[] }>(['-n', ns, 'get', 'events', '--field-selector', 'involvedObject.name=probe']);
  return list.items;
}

/** A dry-run pod asking for an agent from a Vault that does not exist: denied by the webhook where it answers, created where it does not. */
async function dryRunPod(ns: string): Promise<string> {
  const pod = yaml.dump({
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name: 'webhook-probe', namespace: ns, annotations: { 'vault.autopilot.dev/agent-inject': 'true', 'vault.autopilot.dev/vault': `${ns}/absent`, 'vault.autopilot.dev/agent-inject-secret-x': 'secret/data/x' } },
    spec: { containers: [{ name: 'app', image: cluster().images.app, imagePullPolicy: 'Never', command: ['sleep', '1'] }] },
  });
  return olm.k(['create', '--dry-run=server', '-o', 'name', '-f', '-'], pod).then((out) => `created ${out.trim()}`, (e: Error) => e.message);
}

test.serial('OLM and the catalog with the current bundle', async (t) => {
  t.timeout(20 * 60_000);
  let started = Date.now();
  await olm.installOlm();
  times['olm up'] = Date.now() - started;
  started = Date.now();
  const bundle: CatalogBundle = await olm.bundle(generatedFiles('bundle', {}), VERSION);
  await olm.serveCatalog([bundle]);
  times['bundle + catalog'] = Date.now() - started;
  const modes = (bundle.rendered['properties'] as { type: string; value: unknown }[] | undefined) ?? [];
  t.truthy(modes, 'rendered');
  catalogReady = true;
});

for (const mode of MODES) {
  test.serial(`${mode.type}: CSV Succeeded, RBAC only in the target namespaces, the operator acts inside them and leaves ${mode.outside} alone`, async (t) => {
    t.timeout(12 * 60_000);
    if (!catalogReady) return t.fail('no catalog');
    const ns = [...new Set([mode.operator, ...mode.targets, mode.outside])];
    await olm.apply(ns.map(namespace));
    const [group, sub] = subscription(mode.operator);
    const started = Date.now();
    await olm.apply([{ ...group!, spec: { targetNamespaces: mode.targets } }, sub!]);
    await eventually(async () => {
      const csv = await olm.getJson<Csv>(['-n', mode.operator, 'get', 'csv', CSV]).catch(() => undefined);
      if (csv?.status?.phase !== 'Succeeded') throw new Error(`${csv?.status?.phase ?? 'absent'} ${csv?.status?.reason ?? ''} ${csv?.status?.message ?? ''}`);
    }, { timeoutMs: 10 * 60_000, intervalMs: 2000, message: `${mode.type}: CSV Succeeded` });
    times[`${mode.type}: subscription -> CSV Succeeded`] = Date.now() - started;

    // OLM told the operator its targets, and the operator took them
    const pods = await olm.getJson<{ items: { metadata: { name: string; annotations?: Record<string, string> } }[] }>(['-n', mode.operator, 'get', 'pods', '-l', 'app.kubernetes.io/name=vault-autopilot']);
    t.true(pods.items.length >= 1);
    t.is(pods.items[0]!.metadata.annotations?.['olm.targetNamespaces'], mode.targets.join(','));

    // RBAC: the namespaced rights are Roles in the targets; the cluster-wide ones hold nothing namespaced
    for (const target of mode.targets) {
      const roles = await olm.getJson<{ items: { rules: { resources: string[] }[] }[] }>(['-n', target, 'get', 'roles', '-l', `olm.owner=${CSV}`]);
      t.true(roles.items.some((r) => r.rules.some((rule) => rule.resources.includes('secrets'))), `${target}: a Role with the namespaced rights`);
    }
    const outsideRoles = await olm.getJson<{ items: unknown[] }>(['-n', mode.outside, 'get', 'roles', '-l', `olm.owner=${CSV}`]);
    t.is(outsideRoles.items.length, 0, `${mode.outside}: no Role`);
    const clusterRoles = await olm.getJson<{ items: { metadata: { name: string }; rules?: { resources?: string[] }[] }[] }>(['get', 'clusterroles', '-l', `olm.owner=${CSV}`]);
    const clusterResources = clusterRoles.items.filter((r) => !/-(admin|edit|view|crdview)$/.test(r.metadata.name)).flatMap((r) => (r.rules ?? []).flatMap((rule) => rule.resources ?? []));
    for (const sensitive of ['secrets', 'statefulsets', 'services', 'serviceaccounts', 'configmaps']) t.false(clusterResources.includes(sensitive), `${sensitive} is not cluster-wide`);
    t.true(clusterResources.includes('clusterrolebindings'), 'the auth-delegator binding stays cluster-wide');

    // scope: the outsider is annotated FIRST; were it watched, it would get its Event before the insiders
    await olm.apply([annotatedAccount(mode.outside)]);
    await olm.apply(mode.targets.map(annotatedAccount));
    const acted = Date.now();
    for (const target of mode.targets) {
      await eventually(async () => {
        if (!(await probeEvents(target)).some((e) => e.reason === 'TargetVaultNotFound')) throw new Error(`no TargetVaultNotFound Event in ${target} yet`);
      }, { timeoutMs: 120_000, intervalMs: 1000, message: `${mode.type}: the operator acts on the ServiceAccount in ${target}` });
    }
    times[`${mode.type}: annotated ServiceAccount -> Event`] = Date.now() - acted;
    t.deepEqual(await probeEvents(mode.outside), [], `${mode.outside}: no Event for a ServiceAccount outside the targets`);
    const outsider = await olm.getJson<{ metadata: { finalizers?: string[]; annotations: Record<string, string> } }>(['-n', mode.outside, 'get', 'serviceaccount', 'probe']);
    t.deepEqual(outsider.metadata.finalizers ?? [], []);
    t.deepEqual(Object.keys(outsider.metadata.annotations).filter((k) => k.startsWith('vault.autopilot.dev/')).sort(), ['vault.autopilot.dev/auto-configure', 'vault.autopilot.dev/vault']);

    // the webhook (OLM's selector from the OperatorGroup) answers in a target, not outside
    const inside = await eventually(async () => {
      const answer = await dryRunPod(mode.targets[0]!);
      if (!/denied the request/.test(answer)) throw new Error(answer);
      return answer;
    }, { timeoutMs: 60_000, intervalMs: 2000, message: `${mode.type}: the webhook answers in ${mode.targets[0]}` });
    t.regex(inside, /absent/);
    t.regex(await dryRunPod(mode.outside), /^created pod\/webhook-probe/);

    // uninstall this mode (OLM removes the CSV's RBAC and webhook) before the next one
    await olm.k(['-n', mode.operator, 'delete', 'subscription,csv,operatorgroup', '--all', '--timeout=120s']);
    await eventually(async () => {
      if ((await olm.k(['-n', mode.operator, 'get', 'deployment', NAME.deployment, '--ignore-not-found', '-o', 'name'])).trim()) throw new Error('deployment still there');
      if ((await olm.k(['get', 'mutatingwebhookconfigurations', '-l', `olm.owner=${CSV}`, '-o', 'name'])).trim()) throw new Error('webhook configuration still there');
    }, { timeoutMs: 180_000, intervalMs: 2000, message: `${mode.type}: uninstalled` });
    await olm.k(['delete', 'namespace', ...ns.filter((n) => n !== mode.outside), '--wait=false']);
    await olm.k(['-n', mode.outside, 'delete', 'serviceaccount', 'probe']);
    t.log(`times: ${JSON.stringify(times)}`);
  });
}
