// ACL policies: normalise desired, read actual, pure plan(), apply().
import type { PolicySpec } from '../api/vault.js';
import type { VaultClient } from './client.js';
import { applyChanges, duplicates, type ApplyResult, type Change, type Plan, type Problem } from './config-plan.js';

/** Built-in policies: `root` can never be written, neither can ever be deleted. */
export const BUILTIN_POLICIES = ['root', 'default'] as const;

export interface DesiredPolicy {
  name: string;
  rules: string;
}

/** policy name -> document as Vault returns it; only names the plan asks about are read. */
export type ActualPolicies = Map<string, string>;

/** Documents compare without line-ending or trailing-space noise. */
export function normaliseRules(rules: string): string {
  return rules
    .replace(/\r\n/g, '\n')
    .split('\n')
    .map((line) => line.replace(/\s+$/, ''))
    .join('\n')
    .trim();
}

export function normalisePolicies(specs: PolicySpec[] | undefined): { desired: DesiredPolicy[]; problems: Problem[] } {
  const problems: Problem[] = [];
  const desired: DesiredPolicy[] = [];
  for (const name of duplicates((specs ?? []).map((p) => p.name))) {
    problems.push({ concern: 'policy', id: name, message: `policy "${name}" is listed more than once` });
  }
  for (const spec of specs ?? []) {
    if (spec.name === 'root') {
      problems.push({ concern: 'policy', id: spec.name, message: 'policy "root" is built in and cannot be managed' });
      continue;
    }
    if (typeof spec.rules !== 'string' || spec.rules.trim() === '') {
      problems.push({ concern: 'policy', id: spec.name, message: `policy "${spec.name}" has no rules` });
      continue;
    }
    if (desired.some((d) => d.name === spec.name)) continue;
    desired.push({ name: spec.name, rules: normaliseRules(spec.rules) });
  }
  return { desired, problems };
}

/** Names whose content the plan needs: the desired ones and those it may remove. */
export function policiesToRead(desired: DesiredPolicy[], managed: string[]): string[] {
  return [...new Set([...desired.map((p) => p.name), ...managed])];
}

export async function readPolicies(client: VaultClient, names: string[]): Promise<ActualPolicies> {
  const actual: ActualPolicies = new Map();
  for (const name of names) {
    const res = await client.request<{ data?: { policy?: string }; policy?: string }>(
      'GET',
      `sys/policies/acl/${encodeURIComponent(name)}`,
      undefined,
      { allowStatus: [404] },
    );
    if (res.status === 404) continue;
    actual.set(name, res.data.data?.policy ?? res.data.policy ?? '');
  }
  return actual;
}

/**
 * Like readPolicies, but one LIST of sys/policies/acl first: a name it does
 * not show is absent (no GET), a name to be removed only needs to exist, and
 * `settled` names (the caller knows their content) hold `desired`'s rules.
 * A token that may not list falls back to reading each name.
 */
export async function readListedPolicies(client: VaultClient, names: string[], desired: ReadonlyMap<string, string>, settled: (name: string) => boolean): Promise<ActualPolicies> {
  const list = await client.request<{ data?: { keys?: string[] } }>('LIST', 'sys/policies/acl', undefined, { allowStatus: [403, 404] });
  if (list.status === 403) return readPolicies(client, names);
  const listed = new Set(list.status === 404 ? [] : (list.data.data?.keys ?? []));
  const actual: ActualPolicies = new Map();
  const toRead: string[] = [];
  for (const name of names) {
    if (!listed.has(name)) continue;
    const rules = desired.get(name);
    // a removal needs only to know the policy exists
    if (rules === undefined) actual.set(name, '');
    else if (settled(name)) actual.set(name, rules);
    else toRead.push(name);
  }
  for (const [name, rules] of await readPolicies(client, toRead)) actual.set(name, rules);
  return actual;
}

export function planPolicies(desired: DesiredPolicy[], actual: ActualPolicies, managed: string[]): Plan {
  const changes: Change[] = [];
  for (const policy of desired) {
    const current = actual.get(policy.name);
    if (current !== undefined && normaliseRules(current) === policy.rules) continue;
    changes.push({
      concern: 'policy',
      action: current === undefined ? 'create' : 'update',
      id: policy.name,
      writes: [{ method: 'PUT', path: `sys/policies/acl/${encodeURIComponent(policy.name)}`, body: { policy: policy.rules } }],
      summary: `${current === undefined ? 'created' : 'updated'} policy ${policy.name}`,
    });
  }
  const wanted = new Set(desired.map((p) => p.name));
  for (const name of managed) {
    if (wanted.has(name) || (BUILTIN_POLICIES as readonly string[]).includes(name) || !actual.has(name)) continue;
    changes.push({
      concern: 'policy',
      action: 'delete',
      id: name,
      writes: [{ method: 'DELETE', path: `sys/policies/acl/${encodeURIComponent(name)}` }],
      summary: `deleted policy ${name}`,
    });
  }
  return { changes, problems: [] };
}

export function applyPolicies(client: VaultClient, changes: Change[]): Promise<ApplyResult> {
  return applyChanges(client, changes);
}
