// The I/O half of test/olm/olm.ts: puts OLM, bundle images and the catalog
// onto the local cluster (test/harness/cluster.ts). Images go straight into
// the node's containerd (`ctr images import`); bundle images are referenced
// by digest, so nothing is ever pulled.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import yaml from 'js-yaml';
import { kubectl, type ClusterInfo } from '../harness/cluster.js';
import { eventually } from '../harness/eventually.js';
import { REPO_ROOT } from '../harness/versions.js';
import { BUNDLE_REPOSITORY, CATALOG, OLM_IMAGE, catalogServer, fileBasedCatalog, OLM_NAMESPACE, olmControlPlane, type CatalogBundle, type Manifest } from './olm.js';
import { writeBundle } from './validator.js';

const run = promisify(execFile);
const BUILD = join(REPO_ROOT, 'test', 'olm', 'build.sh');

type Info = Pick<ClusterInfo, 'kubectl' | 'kubeconfig' | 'containerd'>;

/** test/olm/build.sh <args>: its last stdout line (a path). */
export async function olmBuild(...args: string[]): Promise<string> {
  const { stdout } = await run('bash', [BUILD, ...args], { maxBuffer: 16 * 1024 * 1024 });
  return stdout.trim().split('\n').pop()!;
}

export function toStream(objects: Manifest[]): string {
  return objects.map((o) => `---\n${yaml.dump(o, { lineWidth: -1, noRefs: true })}`).join('');
}

export class OlmOnCluster {
  private readonly work = mkdtempSync(join(tmpdir(), 'va-olm-'));
  private opm = '';

  constructor(readonly info: Info) {}

  k(args: string[], input?: string): Promise<string> {
    return kubectl(this.info, args, input);
  }

  async getJson<T>(args: string[]): Promise<T> {
    return JSON.parse(await this.k([...args, '-o', 'json'])) as T;
  }

  apply(objects: Manifest[]): Promise<string> {
    return this.k(['apply', '--server-side', '--force-conflicts', '--field-manager=olm-e2e', '-f', '-'], toStream(objects));
  }

  private async ctr(...args: string[]): Promise<string> {
    const { stdout } = await run('ctr', ['--address', this.info.containerd.socket, '--namespace', this.info.containerd.namespace, ...args], { maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  }

  /** Imports a docker-archive; returns the manifest digest containerd gives the image. */
  async importImage(archive: string, ref: string): Promise<string> {
    await this.ctr('images', 'import', archive);
    const line = (await this.ctr('images', 'ls', `name==${ref}`)).split('\n').find((l) => l.startsWith(`${ref} `));
    const digest = line?.split(/\s+/).find((f) => f.startsWith('sha256:'));
    if (!digest) throw new Error(`image ${ref} not in containerd after import`);
    return digest;
  }

  /** OLM's CRDs, its image, and olm-operator + catalog-operator running. */
  async installOlm(): Promise<void> {
    const [crds, archive] = await Promise.all([olmBuild('olm-crds'), olmBuild('olm-image')]);
    this.opm = await olmBuild('opm');
    await this.importImage(archive, OLM_IMAGE);
    await this.k(['apply', '--server-side', '-f', crds]);
    await this.k(['wait', '--for=condition=Established', '--timeout=60s', '-f', crds]);
    await this.apply(olmControlPlane());
    for (const name of ['olm-operator', 'catalog-operator']) {
      await this.k(['-n', OLM_NAMESPACE, 'rollout', 'status', `deployment/${name}`, '--timeout=300s']);
    }
  }

  /**
   * Builds the bundle image of `files` (generatedFiles('bundle') layout) with
   * buildah, imports it, tags it by digest and renders it with opm.
   */
  async bundle(files: Map<string, string>, version: string): Promise<CatalogBundle> {
    const dir = writeBundle(files);
    try {
      const ref = `${BUNDLE_REPOSITORY}:v${version}`;
      const archive = join(this.work, `bundle-${version}.tar`);
      await olmBuild('bundle-image', dir, ref, archive);
      const digest = await this.importImage(archive, ref);
      const byDigest = `${BUNDLE_REPOSITORY}@${digest}`;
      await this.ctr('images', 'tag', '--force', ref, byDigest);
      const { stdout } = await run(this.opm, ['render', dir, '-o', 'json'], { maxBuffer: 16 * 1024 * 1024 });
      return { rendered: JSON.parse(stdout) as Record<string, unknown>, image: byDigest };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  /** `opm validate` on the catalog, then (re)deploys the catalog server and waits for the CatalogSource to connect. */
  async serveCatalog(bundles: CatalogBundle[]): Promise<string> {
    const text = fileBasedCatalog(bundles);
    const dir = join(this.work, 'catalog', 'vault-autopilot');
    rmSync(join(this.work, 'catalog'), { recursive: true, force: true });
    await run('mkdir', ['-p', dir]);
    writeFileSync(join(dir, 'catalog.yaml'), text);
    await run(this.opm, ['validate', join(this.work, 'catalog')]);
    const objects = catalogServer(text);
    const existed = await this.k(['-n', OLM_NAMESPACE, 'get', 'deployment', CATALOG.name, '--ignore-not-found', '-o', 'name']);
    await this.apply(objects);
    // a new catalog is read at start: restart the server when it was running
    if (existed.trim()) await this.k(['-n', OLM_NAMESPACE, 'rollout', 'restart', `deployment/${CATALOG.name}`]);
    await this.k(['-n', OLM_NAMESPACE, 'rollout', 'status', `deployment/${CATALOG.name}`, '--timeout=300s']);
    await eventually(
      async () => {
        const cs = await this.getJson<{ status?: { connectionState?: { lastObservedState?: string } } }>(['-n', OLM_NAMESPACE, 'get', 'catalogsource', CATALOG.name]);
        const state = cs.status?.connectionState?.lastObservedState;
        if (state !== 'READY') throw new Error(`CatalogSource state ${state ?? 'none'}`);
      },
      { timeoutMs: 120_000, intervalMs: 1000, message: 'CatalogSource READY' },
    );
    return text;
  }

  /**
   * Removes what OLM, the operator and the test made (also after a failure),
   * webhook configuration first (its policy is Fail), then the operator, then
   * what it managed (finalizers dropped: no operator is left to run them),
   * the namespaces, the CRDs and OLM itself.
   */
  async removeEverything(namespaces: string[]): Promise<void> {
    const quiet = (args: string[]) => this.k(args).catch(() => '');
    await quiet(['delete', 'mutatingwebhookconfigurations', '-l', `olm.owner.kind=ClusterServiceVersion`, '--ignore-not-found']);
    for (const ns of namespaces) await quiet(['-n', ns, 'delete', 'subscriptions,csv,operatorgroups', '--all', '--ignore-not-found', '--timeout=120s']);
    for (const kind of ['kmsvaultsecrets', 'partialkmsvaultsecrets', 'vaults']) {
      const refs = (await quiet(['get', kind, '-A', '-o', 'jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name}{"\\n"}{end}'])).split('\n').filter(Boolean);
      for (const ref of refs) {
        const [ns, name] = ref.split('/') as [string, string];
        await quiet(['-n', ns, 'patch', kind, name, '--type', 'merge', '-p', '{"metadata":{"finalizers":null}}']);
        await quiet(['-n', ns, 'delete', kind, name, '--ignore-not-found', '--wait=false']);
      }
    }
    for (const ns of namespaces) {
      const accounts = (await quiet(['-n', ns, 'get', 'serviceaccounts', '-o', 'jsonpath={range .items[?(@.metadata.finalizers)]}{.metadata.name}{"\\n"}{end}'])).split('\n').filter(Boolean);
      for (const name of accounts) await quiet(['-n', ns, 'patch', 'serviceaccount', name, '--type', 'json', '-p', '[{"op":"remove","path":"/metadata/finalizers"}]']);
    }
    await quiet(['delete', 'namespace', ...namespaces, OLM_NAMESPACE, '--ignore-not-found', '--timeout=180s']);
    await quiet(['delete', 'crd', 'kmsvaultsecrets.vault.autopilot.dev', 'partialkmsvaultsecrets.vault.autopilot.dev', 'vaults.vault.autopilot.dev', '--ignore-not-found']);
    await quiet(['delete', 'clusterroles,clusterrolebindings', '-l', 'olm.owner.kind=ClusterServiceVersion', '--ignore-not-found']);
    await quiet(['-n', 'kube-system', 'delete', 'rolebindings', '-l', 'olm.managed=true', '--ignore-not-found']);
    await quiet(['delete', 'clusterrolebinding', `olm-operator-binding-${OLM_NAMESPACE}`, '--ignore-not-found']);
    await quiet(['delete', 'clusterrole', 'system:controller:operator-lifecycle-manager', '--ignore-not-found']);
    const crds = (await quiet(['get', 'crd', '-o', 'name'])).split('\n').filter((n) => n.endsWith('.operators.coreos.com'));
    if (crds.length) await quiet(['delete', ...crds, '--ignore-not-found']);
  }

  dispose(): void {
    rmSync(this.work, { recursive: true, force: true });
  }
}
