// Identity groups and group aliases (Bank-Vaults' externalConfig.groups and
// group-aliases): normalise, read, pure plan. Groups are keyed by name
// (identity/group/name/<name>); an alias links an external group to a name
// under an auth mount (its accessor). Removal is tracked like every other
// entry (status.managed.groups / groupAliases).
import type { GroupAliasSpec, IdentityGroupSpec, VaultParams } from '../api/vault.js';
import type { VaultClient } from './client.js';
import { duplicates, trimPath, valueSatisfied, type Change, type Plan, type Problem } from './config-plan.js';

export interface DesiredGroup {
  name: string;
  type: 'internal' | 'external';
  policies: string[];
  metadata: Record<string, string>;
}

export interface DesiredGroupAlias {
  /** `<mountpath>/<name>`: the id in status.managed.groupAliases */
  id: string;
  name: string;
  mountpath: string;
  group: string;
}

export interface ActualGroup {
  id: string;
  type: string;
  policies: string[];
  metadata: Record<string, string>;
  alias?: { id: string; name: string; mount_accessor: string };
}

export interface ActualIdentity {
  groups: Map<string, ActualGroup>;
  /** auth mount path -> accessor (read only when aliases are in play) */
  accessors: Map<string, string>;
}

export function normaliseGroups(specs: IdentityGroupSpec[] | undefined): { desired: DesiredGroup[]; problems: Problem[] } {
  const problems: Problem[] = [];
  const desired: DesiredGroup[] = [];
  const dup = new Set(duplicates((specs ?? []).map((g) => g.name)));
  for (const name of dup) problems.push({ concern: 'group', id: name, message: `group "${name}" is listed more than once` });
  for (const spec of specs ?? []) {
    if (!spec.name || dup.has(spec.name)) continue;
    const type = spec.type ?? 'internal';
    if (type !== 'internal' && type !== 'external') {
      problems.push({ concern: 'group', id: spec.name, message: `group "${spec.name}" has type "${type}"; internal or external` });
      continue;
    }
    // Vault keeps metadata as strings
    const metadata = Object.fromEntries(Object.entries(spec.metadata ?? {}).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
    desired.push({ name: spec.name, type, policies: [...(spec.policies ?? [])], metadata });
  }
  return { desired, problems };
}

export function normaliseGroupAliases(specs: GroupAliasSpec[] | undefined): { desired: DesiredGroupAlias[]; problems: Problem[] } {
  const problems: Problem[] = [];
  const desired: DesiredGroupAlias[] = [];
  for (const spec of specs ?? []) {
    const mountpath = trimPath(spec.mountpath ?? '');
    const id = `${mountpath}/${spec.name}`;
    if (!spec.name || !mountpath || !spec.group) {
      problems.push({ concern: 'group-alias', id, message: 'a group alias needs name, mountpath and group' });
      continue;
    }
    desired.push({ id, name: spec.name, mountpath, group: spec.group });
  }
  for (const id of duplicates(desired.map((d) => d.id))) problems.push({ concern: 'group-alias', id, message: `group alias "${id}" is listed more than once` });
  return { desired, problems };
}

export async function readIdentity(client: VaultClient, names: string[], withAccessors: boolean): Promise<ActualIdentity> {
  const groups = new Map<string, ActualGroup>();
  for (const name of names) {
    const res = await client.request<{ data?: VaultParams }>('GET', `identity/group/name/${encodeURIComponent(name)}`, undefined, { allowStatus: [404] });
    const data = res.status === 404 ? undefined : res.data.data;
    if (!data) continue;
    const alias = data['alias'] as { id?: string; name?: string; mount_accessor?: string } | undefined;
    groups.set(name, {
      id: String(data['id']),
      type: String(data['type'] ?? 'internal'),
      policies: (data['policies'] as string[] | null) ?? [],
      metadata: (data['metadata'] as Record<string, string> | null) ?? {},
      ...(alias?.id ? { alias: { id: alias.id, name: alias.name ?? '', mount_accessor: alias.mount_accessor ?? '' } } : {}),
    });
  }
  const accessors = new Map<string, string>();
  if (withAccessors) {
    const res = await client.request<{ data?: Record<string, { accessor?: string }> } & Record<string, unknown>>('GET', 'sys/auth');
    const mounts = (res.data.data ?? res.data) as Record<string, { accessor?: string }>;
    for (const [path, entry] of Object.entries(mounts)) if (entry && typeof entry === 'object' && entry.accessor) accessors.set(trimPath(path), entry.accessor);
  }
  return { groups, accessors };
}

/** Groups: create, update what differs (policies as a set, metadata), delete those removed from the spec. */
export function planGroups(desired: DesiredGroup[], actual: ActualIdentity, managed: string[]): Plan {
  const changes: Change[] = [];
  const problems: Problem[] = [];
  for (const want of desired) {
    const have = actual.groups.get(want.name);
    const body = { type: want.type, policies: want.policies, metadata: want.metadata };
    if (have && have.type !== want.type) {
      problems.push({ concern: 'group', id: want.name, message: `group "${want.name}" is ${have.type} in Vault; its type cannot change (delete it by hand)` });
      continue;
    }
    if (have && valueSatisfied(want.policies, have.policies) && JSON.stringify(Object.entries(want.metadata).sort()) === JSON.stringify(Object.entries(have.metadata).sort())) continue;
    changes.push({
      concern: 'group',
      action: have ? 'update' : 'create',
      id: want.name,
      writes: [{ method: 'POST', path: `identity/group/name/${encodeURIComponent(want.name)}`, body }],
      summary: `${have ? 'updated' : 'created'} identity group ${want.name}`,
    });
  }
  const wanted = new Set(desired.map((d) => d.name));
  for (const name of managed) {
    if (wanted.has(name) || !actual.groups.has(name)) continue;
    changes.push({ concern: 'group', action: 'delete', id: name, writes: [{ method: 'DELETE', path: `identity/group/name/${encodeURIComponent(name)}` }], summary: `deleted identity group ${name}` });
  }
  return { changes, problems };
}

/** Aliases, planned after the groups exist (an alias needs its group's id and the mount's accessor). */
export function planGroupAliases(desired: DesiredGroupAlias[], actual: ActualIdentity, managed: string[]): Plan {
  const changes: Change[] = [];
  const problems: Problem[] = [];
  const wantedByGroup = new Map<string, DesiredGroupAlias>();
  for (const want of desired) {
    const group = actual.groups.get(want.group);
    const accessor = actual.accessors.get(want.mountpath);
    if (!group || group.type !== 'external') {
      problems.push({ concern: 'group-alias', id: want.id, message: `group alias "${want.id}" needs an external group "${want.group}" in groups` });
      continue;
    }
    if (!accessor) {
      problems.push({ concern: 'group-alias', id: want.id, message: `group alias "${want.id}": no auth method is mounted at "${want.mountpath}"` });
      continue;
    }
    if (wantedByGroup.has(want.group)) {
      problems.push({ concern: 'group-alias', id: want.id, message: `group "${want.group}" can have only one alias` });
      continue;
    }
    wantedByGroup.set(want.group, want);
    const body = { name: want.name, mount_accessor: accessor, canonical_id: group.id };
    if (group.alias && group.alias.name === want.name && group.alias.mount_accessor === accessor) continue;
    changes.push({
      concern: 'group-alias',
      action: group.alias ? 'update' : 'create',
      id: want.id,
      writes: [{ method: 'POST', path: group.alias ? `identity/group-alias/id/${group.alias.id}` : 'identity/group-alias', body }],
      summary: `${group.alias ? 'updated' : 'created'} group alias ${want.id} of group ${want.group}`,
    });
  }
  // a removed alias: found on the group it was made for, if that group is still known
  const wantedIds = new Set(desired.map((d) => d.id));
  for (const id of managed) {
    if (wantedIds.has(id)) continue;
    for (const group of actual.groups.values()) {
      const mount = [...actual.accessors].find(([, a]) => a === group.alias?.mount_accessor)?.[0];
      if (group.alias && `${mount}/${group.alias.name}` === id) {
        changes.push({ concern: 'group-alias', action: 'delete', id, writes: [{ method: 'DELETE', path: `identity/group-alias/id/${group.alias.id}` }], summary: `deleted group alias ${id}` });
      }
    }
  }
  return { changes, problems };
}

/** What the operator's own policy must allow for these groups and aliases. */
export function identityPolicyLines(groups: string[], aliases: boolean): string[] {
  const lines = groups.map((name) => `path "identity/group/name/${name}" { capabilities = ["create", "read", "update", "delete"] }`);
  if (aliases) {
    lines.push('path "identity/group-alias" { capabilities = ["create", "update"] }');
    lines.push('path "identity/group-alias/id/*" { capabilities = ["read", "update", "delete"] }');
  }
  return lines;
}
