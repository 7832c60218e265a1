// Bank-Vaults' `__accessor__<auth mount>` placeholders: policies (templated
// policies need a mount's accessor, which Vault picks at enable time) and the
// `allowed_domains` of secret-engine configuration entries (PKI roles) name
// an auth mount; the accessor replaces the placeholder before anything is
// compared or written. Pure except readAuthAccessors.
import type { ExternalConfig } from '../api/vault.js';
import type { VaultClient } from './client.js';
import { trimPath } from './config-plan.js';

const MARK = '__accessor__';

export function mentionsAccessors(config: ExternalConfig | undefined): boolean {
  return JSON.stringify(config ?? {}).includes(MARK);
}

/** auth mount path -> accessor, from sys/auth. */
export async function readAuthAccessors(client: VaultClient): Promise<Map<string, string>> {
  const res = await client.request<{ data?: Record<string, { accessor?: string }> } & Record<string, unknown>>('GET', 'sys/auth');
  const mounts = (res.data.data ?? res.data) as Record<string, { accessor?: string }>;
  const out = new Map<string, string>();
  for (const [path, entry] of Object.entries(mounts)) {
    if (entry && typeof entry === 'object' && typeof entry.accessor === 'string') out.set(trimPath(path), entry.accessor);
  }
  return out;
}

function replaceIn(text: string, ordered: Array<[string, string]>, unresolved: Set<string>): string {
  let out = text;
  // longest mount first: __accessor__kubernetes_cluster before __accessor__kubernetes
  for (const [path, accessor] of ordered) out = out.split(`${MARK}${path}`).join(accessor);
  for (const m of out.matchAll(/__accessor__([A-Za-z0-9_\-/]*)/g)) unresolved.add(m[1] ?? '');
  return out;
}

/**
 * The config with every placeholder of an existing auth mount replaced;
 * `unresolved` names the placeholders left (their mount does not exist yet,
 * or at all).
 */
export function replaceAccessors(config: ExternalConfig, accessors: ReadonlyMap<string, string>): { config: ExternalConfig; unresolved: string[] } {
  const ordered = [...accessors.entries()].sort(([a], [b]) => b.length - a.length);
  const unresolved = new Set<string>();
  const policies = config.policies?.map((p) => (typeof p.rules === 'string' && p.rules.includes(MARK) ? { ...p, rules: replaceIn(p.rules, ordered, unresolved) } : p));
  const secrets = config.secrets?.map((engine) => {
    if (!engine.configuration || !JSON.stringify(engine.configuration).includes(MARK)) return engine;
    const configuration: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(engine.configuration)) {
      const items = Array.isArray(value) ? value : [value];
      const replaced = items.map((item) => {
        if (!item || typeof item !== 'object' || Array.isArray(item)) return item;
        const domains = (item as Record<string, unknown>)['allowed_domains'];
        if (typeof domains === 'string') return { ...item, allowed_domains: replaceIn(domains, ordered, unresolved) };
        if (Array.isArray(domains)) return { ...item, allowed_domains: domains.map((d) => (typeof d === 'string' ? replaceIn(d, ordered, unresolved) : d)) };
        return item;
      });
      configuration[key] = Array.isArray(value) ? replaced : replaced[0];
    }
    return { ...engine, configuration };
  });
  return {
    config: { ...config, ...(policies ? { policies } : {}), ...(secrets ? { secrets } : {}) },
    unresolved: [...unresolved].sort(),
  };
}
