// Bank-Vaults' externalConfig.plugins: entries of Vault's plugin catalog
// (sys/plugins/catalog/<type>/<name>: the binary's command in Vault's
// plugin_directory and its SHA-256). Registered when absent or different,
// deregistered when they leave the spec (tracked in status.managed.plugins);
// a plugin someone else registered is never touched. Pure except readPlugins.
import type { PluginSpec, VaultParams } from '../api/vault.js';
import type { VaultClient } from './client.js';
import { duplicates, paramsSatisfied, type Change, type Plan, type Problem } from './config-plan.js';

const TYPES = ['auth', 'secret', 'database'] as const;

export interface DesiredPlugin {
  /** `<type>/<name>`, the id in status.managed.plugins */
  id: string;
  body: VaultParams;
}

/** id -> the catalog entry, or absent */
export type ActualPlugins = Map<string, VaultParams | 'absent'>;

export function normalisePlugins(specs: PluginSpec[] | undefined): { desired: DesiredPlugin[]; problems: Problem[] } {
  const desired: DesiredPlugin[] = [];
  const problems: Problem[] = [];
  for (const spec of specs ?? []) {
    const extra = spec as PluginSpec & { args?: unknown; env?: unknown; version?: unknown };
    const id = `${spec.type ?? '?'}/${spec.plugin_name ?? '?'}`;
    if (!spec.plugin_name || spec.plugin_name.includes('/') || !TYPES.includes(spec.type as (typeof TYPES)[number])) {
      problems.push({ concern: 'plugin', id, message: `plugin "${id}" needs plugin_name and a type of ${TYPES.join(', ')}` });
      continue;
    }
    if (!spec.command || !/^[0-9a-f]{64}$/i.test(spec.sha256 ?? '')) {
      problems.push({ concern: 'plugin', id, message: `plugin "${id}" needs command (in Vault's plugin_directory) and sha256 (64 hex digits)` });
      continue;
    }
    desired.push({
      id,
      body: {
        command: spec.command,
        sha256: spec.sha256!.toLowerCase(),
        ...(Array.isArray(extra.args) ? { args: extra.args } : {}),
        ...(Array.isArray(extra.env) ? { env: extra.env } : {}),
        ...(typeof extra.version === 'string' ? { version: extra.version } : {}),
      },
    });
  }
  const dup = new Set(duplicates(desired.map((d) => d.id)));
  for (const id of dup) problems.push({ concern: 'plugin', id, message: `plugin "${id}" is listed more than once` });
  return { desired: desired.filter((d) => !dup.has(d.id)), problems };
}

/** Catalog entries of the desired and the recorded plugins (the catalog endpoints need sudo). */
export async function readPlugins(client: VaultClient, desired: DesiredPlugin[], managed: string[]): Promise<ActualPlugins> {
  const actual: ActualPlugins = new Map();
  for (const id of new Set([...desired.map((d) => d.id), ...managed])) {
    const res = await client.request<{ data?: VaultParams }>('GET', `sys/plugins/catalog/${id}`, undefined, { allowStatus: [404] });
    actual.set(id, res.status === 404 || !res.data.data ? 'absent' : res.data.data);
  }
  return actual;
}

export function planPlugins(desired: DesiredPlugin[], actual: ActualPlugins, managed: string[]): Plan {
  const changes: Change[] = [];
  for (const want of desired) {
    const have = actual.get(want.id);
    // the catalog returns the command and sha256 as registered (args/env too)
    if (have && have !== 'absent' && paramsSatisfied(want.body, have)) continue;
    const creating = !have || have === 'absent';
    changes.push({
      concern: 'plugin',
      action: creating ? 'create' : 'update',
      id: want.id,
      writes: [{ method: 'PUT', path: `sys/plugins/catalog/${want.id}`, body: want.body }],
      summary: `${creating ? 'registered' : 'updated'} plugin ${want.id}`,
    });
  }
  const wanted = new Set(desired.map((d) => d.id));
  for (const id of managed) {
    if (wanted.has(id) || actual.get(id) === 'absent') continue;
    changes.push({ concern: 'plugin', action: 'delete', id, writes: [{ method: 'DELETE', path: `sys/plugins/catalog/${id}` }], summary: `deregistered plugin ${id}` });
  }
  return { changes, problems: [] };
}

/** The operator's policy lines for exactly these catalog entries. */
export function pluginPolicyLines(desired: DesiredPlugin[], managed: string[]): string[] {
  return [...new Set([...desired.map((d) => d.id), ...managed])].map((id) => `path "sys/plugins/catalog/${id}" { capabilities = ["create", "read", "update", "delete", "sudo"] }`);
}
