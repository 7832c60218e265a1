// Secret engine mounts: normalise desired, read actual, pure plan(), apply().
import type { SecretEngineSpec, VaultParams } from '../api/vault.js';
import type { VaultClient } from './client.js';
import {
  applyChanges,
  differingKeys,
  duplicates,
  trimPath,
  type ApplyResult,
  type Change,
  type Plan,
  type Problem,
} from './config-plan.js';

/** Mounts Vault owns; never mounted, tuned or removed by the operator. */
const RESERVED_MOUNTS = ['sys', 'cubbyhole', 'identity'];

export interface DesiredSecretEngine {
  path: string;
  type: string;
  description?: string;
  options: VaultParams;
  config: VaultParams;
  /** set at mount time only (plugin_name, local, seal_wrap): Vault cannot change them later */
  mountOnly?: VaultParams;
}

export interface ActualSecretEngine {
  type: string;
  description: string;
  options: VaultParams;
  config: VaultParams;
}

export type ActualSecretEngines = Map<string, ActualSecretEngine>;

export function normaliseSecretEngines(specs: SecretEngineSpec[] | undefined): { desired: DesiredSecretEngine[]; problems: Problem[] } {
  const problems: Problem[] = [];
  const desired: DesiredSecretEngine[] = [];
  const pathOf = (s: SecretEngineSpec) => trimPath(s.path || s.type || ''); // Bank-Vaults: an empty path (the CRD's default) is the type
  for (const path of duplicates((specs ?? []).map(pathOf))) {
    problems.push({ concern: 'secret', id: path, message: `secret engine path "${path}" is listed more than once` });
  }
  for (const spec of specs ?? []) {
    const path = pathOf(spec);
    if (!spec.type || !path) {
      problems.push({ concern: 'secret', id: path || '?', message: 'a secret engine needs a type' });
      continue;
    }
    if (RESERVED_MOUNTS.includes(path.split('/')[0] as string)) {
      problems.push({ concern: 'secret', id: path, message: `mount path "${path}" is reserved by Vault` });
      continue;
    }
    if (desired.some((d) => d.path === path)) continue;
    let type = spec.type;
    const options: VaultParams = { ...(spec.options ?? {}) };
    // Vault stores `kv-v2` as type kv with options.version 2
    if (type === 'kv-v2') {
      type = 'kv';
      options.version ??= '2';
    }
    desired.push({
      path,
      type,
      ...(spec.description !== undefined ? { description: spec.description } : {}),
      options,
      config: { ...(spec.config ?? {}) },
      ...(spec.plugin_name || spec.local || spec.seal_wrap
        ? { mountOnly: { ...(spec.plugin_name ? { plugin_name: spec.plugin_name } : {}), ...(spec.local ? { local: true } : {}), ...(spec.seal_wrap ? { seal_wrap: true } : {}) } }
        : {}),
    });
  }
  return { desired, problems };
}

interface SysMountEntry {
  type: string;
  description?: string;
  options?: VaultParams | null;
  config?: VaultParams;
}

export async function readSecretEngines(client: VaultClient): Promise<ActualSecretEngines> {
  const res = await client.request<{ data?: Record<string, SysMountEntry> } & Record<string, unknown>>('GET', 'sys/mounts');
  const mounts = (res.data.data ?? res.data) as Record<string, SysMountEntry>;
  const actual: ActualSecretEngines = new Map();
  for (const [rawPath, entry] of Object.entries(mounts)) {
    if (!entry || typeof entry !== 'object' || typeof entry.type !== 'string') continue;
    actual.set(trimPath(rawPath), {
      type: entry.type,
      description: entry.description ?? '',
      options: entry.options ?? {},
      config: entry.config ?? {},
    });
  }
  return actual;
}

/**
 * A mount of another type at the same path is a problem, never a remount:
 * disabling a secret engine destroys its data.
 */
export function planSecretEngines(desired: DesiredSecretEngine[], actual: ActualSecretEngines, managed: string[]): Plan {
  const changes: Change[] = [];
  const problems: Problem[] = [];
  for (const want of desired) {
    const have = actual.get(want.path);
    if (!have) {
      changes.push({
        concern: 'secret',
        action: 'create',
        id: want.path,
        writes: [
          {
            method: 'POST',
            path: `sys/mounts/${want.path}`,
            body: {
              type: want.type,
              ...(want.description !== undefined ? { description: want.description } : {}),
              options: want.options,
              config: want.config,
              ...(want.mountOnly ?? {}),
            },
          },
        ],
        summary: `mounted secret engine ${want.path} (${want.type})`,
      });
      continue;
    }
    if (have.type !== want.type) {
      problems.push({
        concern: 'secret',
        id: want.path,
        message: `mount "${want.path}" holds a "${have.type}" engine, the spec asks for "${want.type}"; migrate it by hand (disabling would destroy its data)`,
      });
      continue;
    }
    const configKeys = differingKeys(want.config, have.config);
    const optionKeys = differingKeys(want.options, have.options);
    const descriptionDiffers = want.description !== undefined && want.description !== have.description;
    if (!configKeys.length && !optionKeys.length && !descriptionDiffers) continue;
    changes.push({
      concern: 'secret',
      action: 'update',
      id: want.path,
      writes: [
        {
          method: 'POST',
          path: `sys/mounts/${want.path}/tune`,
          body: {
            ...want.config,
            ...(optionKeys.length ? { options: want.options } : {}),
            ...(want.description !== undefined ? { description: want.description } : {}),
          },
        },
      ],
      summary: `tuned secret engine ${want.path} (${[...configKeys, ...optionKeys.map((k) => `options.${k}`), ...(descriptionDiffers ? ['description'] : [])].join(', ')})`,
    });
  }
  const wanted = new Set(desired.map((d) => d.path));
  for (const path of managed) {
    if (wanted.has(path) || !actual.has(path) || RESERVED_MOUNTS.includes(path)) continue;
    changes.push({ concern: 'secret', action: 'delete', id: path, writes: [{ method: 'DELETE', path: `sys/mounts/${path}` }], summary: `unmounted secret engine ${path}` });
  }
  return { changes, problems };
}

export function applySecretEngines(client: VaultClient, changes: Change[]): Promise<ApplyResult> {
  return applyChanges(client, changes);
}
