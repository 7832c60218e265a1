// Bank-Vaults' externalConfig.startupSecrets: kv secrets the configuration
// seeds. Written once, when the path holds nothing: the operator checks
// existence without reading values (kv v2 metadata) and never overwrites or
// deletes what is there, so an application (or a person) owns the secret
// afterwards. Values come inline (data.data) or from Kubernetes Secrets in
// the Vault's namespace (data.secretKeyRef). `type: pki` imports a CA: its
// values (certificate and private key, PEM) are joined into the pem_bundle
// written to the path (e.g. pki/config/ca) while the mount has no CA.
import type { SecretEngineSpec, StartupSecretSpec, VaultParams } from '../api/vault.js';
import type { VaultClient } from './client.js';
import { trimPath, type Change, type Plan, type Problem } from './config-plan.js';

export interface DesiredStartupSecret {
  type: 'kv' | 'pki';
  /** the Vault path as written in the spec, e.g. secret/data/app */
  path: string;
  kvVersion: 1 | 2;
  /** where existence is checked: kv v2 metadata, or the path itself for kv v1 */
  existsPath: string;
  data: VaultParams;
  refs: Array<{ name: string; key: string }>;
  options?: VaultParams;
}

/** Resolves a Kubernetes Secret key in the Vault's namespace (the value is marked secret by the caller). */
export type SecretKeyReader = (name: string, key: string) => Promise<string | undefined>;

function kvMount(path: string, engines: SecretEngineSpec[] | undefined): { mount: string; version: 1 | 2 } | undefined {
  let best: { mount: string; version: 1 | 2 } | undefined;
  for (const e of engines ?? []) {
    if (e.type !== 'kv' && e.type !== 'kv-v2') continue;
    const mount = trimPath(e.path || e.type);
    if (path !== mount && !path.startsWith(`${mount}/`)) continue;
    const version = e.type === 'kv-v2' || String(e.options?.['version'] ?? '') === '2' ? 2 : 1;
    if (!best || mount.length > best.mount.length) best = { mount, version };
  }
  return best;
}

function pkiMount(path: string, engines: SecretEngineSpec[] | undefined): string | undefined {
  let best: string | undefined;
  for (const e of engines ?? []) {
    if (e.type !== 'pki') continue;
    const mount = trimPath(e.path || e.type);
    if (path.startsWith(`${mount}/`) && (!best || mount.length > best.length)) best = mount;
  }
  return best;
}

export function normaliseStartupSecrets(specs: StartupSecretSpec[] | undefined, engines: SecretEngineSpec[] | undefined): { desired: DesiredStartupSecret[]; problems: Problem[] } {
  const problems: Problem[] = [];
  const desired: DesiredStartupSecret[] = [];
  for (const spec of specs ?? []) {
    const path = trimPath(spec.path ?? '');
    const id = path || '?';
    const type = spec.type ?? 'kv';
    if (type !== 'kv' && type !== 'pki') {
      problems.push({ concern: 'startup-secret', id, message: `startup secret type "${spec.type}" is not supported (kv or pki)` });
      continue;
    }
    const data = (spec.data?.data ?? {}) as VaultParams;
    const refs = (spec.data?.secretKeyRef ?? []).map((r) => ({ name: String(r['name'] ?? ''), key: String(r['key'] ?? '') }));
    if (type === 'pki') {
      const mount = pkiMount(path, engines);
      if (!path || !mount) {
        problems.push({ concern: 'startup-secret', id, message: `startup secret "${id}" is not under a pki engine listed in secrets` });
        continue;
      }
      if (Object.keys(data).length && refs.length) {
        problems.push({ concern: 'startup-secret', id, message: `startup secret "${id}": data and secretKeyRef cannot be used together` });
        continue;
      }
      if (Object.keys(data).length + refs.length < 2 || refs.some((r) => !r.name || !r.key)) {
        problems.push({ concern: 'startup-secret', id, message: `startup secret "${id}": a pki import needs the certificate and the private key (two values, or two secretKeyRef entries with name and key)` });
        continue;
      }
      desired.push({ type, path, kvVersion: 1, existsPath: `${mount}/cert/ca`, data, refs });
      continue;
    }
    const kv = kvMount(path, engines);
    if (!path || !kv) {
      problems.push({ concern: 'startup-secret', id, message: `startup secret "${id}" is not under a kv engine listed in secrets` });
      continue;
    }
    if (Object.keys(data).length && refs.length) {
      problems.push({ concern: 'startup-secret', id, message: `startup secret "${id}": data and secretKeyRef cannot be used together` });
      continue;
    }
    if (refs.some((r) => !r.name || !r.key)) {
      problems.push({ concern: 'startup-secret', id, message: `startup secret "${id}": every secretKeyRef needs name and key` });
      continue;
    }
    let existsPath = path;
    if (kv.version === 2) {
      const rest = path.slice(kv.mount.length + 1);
      if (!rest.startsWith('data/')) {
        problems.push({ concern: 'startup-secret', id, message: `startup secret "${id}": a kv v2 path is <mount>/data/<name>` });
        continue;
      }
      existsPath = `${kv.mount}/metadata/${rest.slice('data/'.length)}`;
    }
    desired.push({ type, path, kvVersion: kv.version, existsPath, data, refs, ...(spec.data?.options ? { options: spec.data.options as VaultParams } : {}) });
  }
  return { desired, problems };
}

/** Paths that already hold something (checked without reading values for kv v2). */
export async function readStartupSecrets(client: VaultClient, desired: DesiredStartupSecret[]): Promise<Set<string>> {
  const present = new Set<string>();
  for (const d of desired) {
    const res = await client.request<{ data?: VaultParams }>('GET', d.existsPath, undefined, { allowStatus: [404] });
    if (res.status === 404 || !res.data.data) continue;
    // a pki mount without a CA answers with an empty certificate
    if (d.type === 'pki' ? Boolean(res.data.data['certificate']) : Object.keys(res.data.data).length > 0) present.add(d.path);
  }
  return present;
}

/** Writes for absent paths; values from Kubernetes Secrets are resolved here (a missing one is a problem). */
export async function planStartupSecrets(desired: DesiredStartupSecret[], present: Set<string>, readKey: SecretKeyReader | undefined): Promise<Plan> {
  const changes: Change[] = [];
  const problems: Problem[] = [];
  for (const d of desired) {
    if (present.has(d.path)) continue;
    let values: VaultParams = d.data;
    if (d.refs.length) {
      values = {};
      for (const ref of d.refs) {
        const value = readKey ? await readKey(ref.name, ref.key) : undefined;
        if (value === undefined) {
          problems.push({ concern: 'startup-secret', id: d.path, message: `startup secret "${d.path}": Secret ${ref.name} has no key ${ref.key}` });
          values = undefined as unknown as VaultParams;
          break;
        }
        values[ref.key] = value;
      }
      if (!values) continue;
    }
    const body =
      d.type === 'pki'
        ? // certificate and key in the order of their keys: Vault finds each PEM block in the bundle
          { pem_bundle: Object.keys(values).sort().map((k) => String(values[k]).trim()).join('\n') }
        : d.kvVersion === 2
          ? { data: values, ...(d.options ? { options: d.options } : {}) }
          : values;
    changes.push({
      concern: 'startup-secret',
      action: 'create',
      id: d.path,
      writes: [{ method: 'POST', path: d.path, body }],
      summary: d.type === 'pki' ? `imported the CA of startup secret ${d.path}` : `wrote startup secret ${d.path}`,
    });
  }
  return { changes, problems };
}

export function startupSecretPolicyLines(desired: DesiredStartupSecret[]): string[] {
  return desired.flatMap((d) =>
    d.type === 'pki'
      ? [`path "${d.path}" { capabilities = ["create", "update"] }`, `path "${d.existsPath}" { capabilities = ["read"] }`]
      : d.existsPath === d.path
      ? [`path "${d.path}" { capabilities = ["create", "read"] }`]
      : [`path "${d.path}" { capabilities = ["create"] }`, `path "${d.existsPath}" { capabilities = ["read"] }`],
  );
}
