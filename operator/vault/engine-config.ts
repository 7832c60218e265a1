// A secret engine's own configuration (Bank-Vaults' `secrets[].configuration`):
// database connections and roles, PKI CA and roles, and the rest. Each key is
// a path under the mount and holds a list of objects; an object's `name` is
// appended (<mount>/<key>/<name>), the rest is the body. Normalise, read, pure
// plan, with removal tracked like every other entry (status.managed.engineConfig).
import type { SecretEngineSpec, VaultParams } from '../api/vault.js';
import { VaultError, type VaultClient } from './client.js';
import { duplicates, paramsSatisfied, trimPath, type Change, type Plan, type Problem } from './config-plan.js';
import { OPERATOR_POLICY, OPERATOR_POLICY_NAME } from './init.js';
import { normaliseRules } from './policies.js';
import { databaseRoleOf } from './secret-refs.js';

/** Bank-Vaults switches, never sent to Vault. */
const SWITCHES = ['create_only', 'rotate', 'save_to'] as const;

/** Endpoints that act rather than store (generate a CA, rotate, sign): written once, never deleted. */
const ACTION = /(^|\/)(generate|rotate|rotate-root|tidy|sign|sign-intermediate|issue|set-signed|import)(\/|$)/;

export interface DesiredEngineConfig {
  /** `<mount>/<key>[/<name>]`: the Vault path, and the id in status.managed.engineConfig */
  id: string;
  mount: string;
  type: string;
  body: VaultParams;
  /** create_only, rotate, or an action endpoint: written when absent, never updated */
  once: boolean;
  /** rotate: the credential-rotation endpoint written after the first write */
  rotatePath?: string;
  /** save_to: where the write's response is kept (a kv v2 path) */
  saveTo?: string;
  /** how to tell whether a `once` entry exists (pki root/generate: the mount's CA) */
  existsPath: string;
  /**
   * Tracked in status.managed.engineConfig: named entries (removed from Vault
   * when they leave the spec) and `once` entries (so they are not redone).
   * A setting without a name (e.g. pki config/urls) has nothing to delete.
   */
  tracked: boolean;
}

/** id -> what Vault returns there; `unreadable` when the path cannot be read back (write-only endpoint). */
export type ActualEngineConfig = Map<string, VaultParams | 'absent' | 'unreadable'>;

function rotatePathFor(type: string, mount: string, key: string, name: string | undefined): string | undefined {
  if (type === 'database' && name) return `${mount}/rotate-root/${name}`;
  if (type === 'aws' && key === 'config/root') return `${mount}/config/rotate-root`;
  if (type === 'gcp' && name) return `${mount}/${key}/${name}/rotate`;
  return undefined;
}

export function normaliseEngineConfig(specs: SecretEngineSpec[] | undefined): { desired: DesiredEngineConfig[]; problems: Problem[] } {
  const problems: Problem[] = [];
  const desired: DesiredEngineConfig[] = [];
  for (const spec of specs ?? []) {
    if (!spec.type) continue;
    const mount = trimPath(spec.path || spec.type);
    // Bank-Vaults' max_versions of a kv mount is its <mount>/config setting
    if (spec.max_versions !== undefined && (spec.type === 'kv-v2' || (spec.type === 'kv' && String(spec.options?.['version']) === '2'))) {
      desired.push({ id: `${mount}/config`, mount, type: spec.type, body: { max_versions: spec.max_versions }, once: false, existsPath: `${mount}/config`, tracked: false });
    }
    if (!spec.configuration) continue;
    for (const [rawKey, value] of Object.entries(spec.configuration)) {
      const key = trimPath(rawKey);
      const items = Array.isArray(value) ? value : [value];
      for (const item of items) {
        if (!item || typeof item !== 'object' || Array.isArray(item)) {
          problems.push({ concern: 'config', id: `${mount}/${key}`, message: `configuration "${key}" of mount "${mount}" must be a list of objects` });
          continue;
        }
        const { name, ...rest } = item as VaultParams;
        const body: VaultParams = { ...rest };
        for (const s of SWITCHES) delete body[s];
        const id = name !== undefined && name !== '' ? `${mount}/${key}/${String(name)}` : `${mount}/${key}`;
        const rotate = (item as VaultParams)['rotate'] === true || (item as VaultParams)['rotate'] === 'true';
        const rotatePath = rotate ? rotatePathFor(spec.type, mount, key, name === undefined ? undefined : String(name)) : undefined;
        if (rotate && !rotatePath) {
          problems.push({ concern: 'config', id, message: `rotate is not supported for "${key}" of a ${spec.type} engine` });
          continue;
        }
        const createOnly = (item as VaultParams)['create_only'] === true || (item as VaultParams)['create_only'] === 'true';
        const isPkiRoot = spec.type === 'pki' && /^(root\/generate)(\/|$)/.test(key);
        const saveTo = (item as VaultParams)['save_to'];
        if (saveTo !== undefined && (typeof saveTo !== 'string' || !trimPath(saveTo) || /[*+"]/.test(saveTo))) {
          problems.push({ concern: 'config', id, message: `save_to of "${id}" must be a Vault path (a kv v2 secret, e.g. secret/data/pki-ca)` });
          continue;
        }
        desired.push({
          id,
          mount,
          type: spec.type,
          body,
          once: createOnly || rotate || ACTION.test(key),
          ...(rotatePath ? { rotatePath } : {}),
          ...(typeof saveTo === 'string' ? { saveTo: trimPath(saveTo) } : {}),
          existsPath: isPkiRoot ? `${mount}/cert/ca` : id,
          tracked: name !== undefined && name !== '' ? true : createOnly || rotate || ACTION.test(key),
        });
      }
    }
  }
  for (const id of duplicates(desired.map((d) => d.id))) problems.push({ concern: 'config', id, message: `configuration path "${id}" is listed more than once` });
  const dup = new Set(duplicates(desired.map((d) => d.id)));
  return { desired: desired.filter((d) => !dup.has(d.id)), problems };
}

/** Entries removed from the spec are deleted only where that is safe: stored objects, not actions. */
export function deletable(id: string): boolean {
  return id.split('/').length >= 3 && !ACTION.test(id.split('/').slice(1).join('/'));
}

function hasContent(data: VaultParams | undefined): boolean {
  if (!data) return false;
  if (typeof data['certificate'] === 'string') return data['certificate'].trim() !== '';
  return Object.keys(data).length > 0;
}

export async function readEngineConfig(client: VaultClient, desired: DesiredEngineConfig[], managed: string[]): Promise<ActualEngineConfig> {
  const actual: ActualEngineConfig = new Map();
  const read = async (path: string): Promise<VaultParams | 'absent' | 'unreadable'> => {
    try {
      const res = await client.request<{ data?: VaultParams }>('GET', path, undefined, { allowStatus: [404] });
      if (res.status === 404) return 'absent';
      const data = res.data.data ?? (res.data as VaultParams);
      return hasContent(data) ? data : 'absent';
    } catch (err) {
      // a write-only endpoint (405, or 400 "unsupported operation") cannot be compared
      if (err instanceof VaultError && !err.unreachable && (err.status === 405 || err.status === 400)) return 'unreadable';
      throw err;
    }
  };
  for (const d of desired) actual.set(d.id, await read(d.existsPath));
  for (const id of managed) if (!actual.has(id) && deletable(id)) actual.set(id, await read(id));
  return actual;
}

/**
 * Writes what differs (only keys the spec sets are compared; values Vault
 * never returns, like passwords, cannot be compared and count as equal),
 * writes `once` entries only when absent, deletes removed entries of mounts
 * that stay (removing a mount removes its configuration with it).
 */
export function planEngineConfig(
  desired: DesiredEngineConfig[],
  actual: ActualEngineConfig,
  managed: string[],
  keptMounts: Set<string>,
  mountTypes: ReadonlyMap<string, string> = new Map(),
): Plan {
  const changes: Change[] = [];
  for (const want of desired) {
    const have = actual.get(want.id);
    if (want.once) {
      if (have && have !== 'absent' && have !== 'unreadable') continue;
      if (have === 'unreadable' && managed.includes(want.id)) continue;
    } else if (have && have !== 'absent' && have !== 'unreadable' && paramsSatisfied(want.body, have)) {
      continue;
    } else if (have === 'unreadable' && managed.includes(want.id)) {
      // cannot be compared: written once, again only when the entry comes back
      continue;
    }
    const writes: Change['writes'] = [{ method: 'POST', path: want.id, body: want.body, ...(want.saveTo ? { saveResponseTo: want.saveTo } : {}) }];
    if (want.rotatePath) writes.push({ method: 'POST', path: want.rotatePath, body: {} });
    const creating = !have || have === 'absent' || have === 'unreadable';
    changes.push({
      concern: 'config',
      action: creating ? 'create' : 'update',
      id: want.id,
      writes,
      summary: `${creating ? 'wrote' : 'updated'} ${want.type} configuration ${want.id}${want.rotatePath ? ' and rotated its root credentials' : ''}${want.saveTo ? `, response saved to ${want.saveTo}` : ''}`,
    });
  }
  const wanted = new Set(desired.map((d) => d.id));
  for (const id of managed) {
    if (wanted.has(id) || !deletable(id) || !keptMounts.has(id.split('/')[0]!)) continue;
    const have = actual.get(id);
    if (!have || have === 'absent') continue;
    // a database role's credentials die with it: its leases are revoked first (the users are dropped)
    const role = databaseRoleOf(id, mountTypes);
    const writes: Change['writes'] = role ? [{ method: 'PUT', path: `sys/leases/revoke-prefix/${role.mount}/creds/${role.name}` }] : [];
    writes.push({ method: 'DELETE', path: id });
    changes.push({ concern: 'config', action: 'delete', id, writes, summary: `removed configuration ${id}${role ? ' and revoked its credentials' : ''}` });
  }
  return { changes, problems: [] };
}

/**
 * The operator's own policy, extended with exactly the engine-configuration
 * paths the spec names (least privilege: it still cannot read secrets).
 * Undefined when there is nothing to add and nothing was added before.
 */
export function operatorPolicyFor(desired: DesiredEngineConfig[], managed: string[], extraLines: string[] = []): string | undefined {
  const paths = new Set<string>(extraLines);
  for (const d of desired) {
    paths.add(`path "${d.id}" { capabilities = ["create", "read", "update", "delete"] }`);
    if (d.existsPath !== d.id) paths.add(`path "${d.existsPath}" { capabilities = ["read"] }`);
    if (d.rotatePath) paths.add(`path "${d.rotatePath}" { capabilities = ["update"] }`);
    // save_to: write-only (cas 0 creates, never reads or overwrites)
    if (d.saveTo) paths.add(`path "${d.saveTo}" { capabilities = ["create", "update"] }`);
  }
  for (const id of managed) paths.add(`path "${id}" { capabilities = ["read", "delete"] }`);
  if (!paths.size) return undefined;
  return normaliseRules(`${OPERATOR_POLICY}\n# engine configuration and identity groups the spec names (secrets[].configuration)\n${[...paths].sort().join('\n')}\n`);
}

/** The write that brings the operator's policy in line, if it differs (`actual`: current document or undefined). */
export function planOperatorPolicy(wanted: string | undefined, actual: string | undefined): Change[] {
  const target = wanted ?? (actual && normaliseRules(actual) !== normaliseRules(OPERATOR_POLICY) && actual.includes('secrets[].configuration') ? normaliseRules(OPERATOR_POLICY) : undefined);
  if (!target || (actual !== undefined && normaliseRules(actual) === target)) return [];
  return [
    {
      concern: 'config',
      action: 'update',
      id: `sys/policies/acl/${OPERATOR_POLICY_NAME}`,
      writes: [{ method: 'PUT', path: `sys/policies/acl/${OPERATOR_POLICY_NAME}`, body: { policy: target } }],
      summary: `updated the operator's own policy for the engine configuration it applies`,
    },
  ];
}
