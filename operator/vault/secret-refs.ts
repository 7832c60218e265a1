// Credentials of engine configuration (a database connection's username and
// password, a cloud engine's keys) come from Kubernetes Secrets of the Vault
// resource's namespace, never from the resource itself: any value of a
// `secrets[].configuration` entry may be `{secretKeyRef: {name, key}}`. The
// reference is resolved only for a write that is about to happen (an entry
// that is already in Vault costs no Secret read), and the value goes straight
// into the Vault request: never into a plan summary, a problem, status or a log
// line (the reader marks it secret for the logger as well).
import type { SecretEngineSpec, VaultParams } from '../api/vault.js';
import { trimPath, type Change, type Problem } from './config-plan.js';
import type { DesiredEngineConfig } from './engine-config.js';
import type { SecretKeyReader } from './startup-secrets.js';

export interface SecretKeyRef {
  name: string;
  key: string;
}

/** `{secretKeyRef: {name, key}}` and nothing else -> the reference. */
export function secretRefOf(value: unknown): SecretKeyRef | undefined {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const keys = Object.keys(value);
  if (keys.length !== 1 || keys[0] !== 'secretKeyRef') return undefined;
  const ref = (value as { secretKeyRef?: unknown }).secretKeyRef;
  if (!ref || typeof ref !== 'object') return { name: '', key: '' };
  const { name, key } = ref as Record<string, unknown>;
  return { name: typeof name === 'string' ? name : '', key: typeof key === 'string' ? key : '' };
}

/** Every reference inside a body, with the top-level field it fills. */
export function secretRefsIn(body: VaultParams): Array<{ field: string; ref: SecretKeyRef }> {
  const out: Array<{ field: string; ref: SecretKeyRef }> = [];
  for (const [field, value] of Object.entries(body)) {
    const ref = secretRefOf(value);
    if (ref) out.push({ field, ref });
  }
  return out;
}

/** userinfo of a URL that carries a literal password (`scheme://user:pass@host`); templates ({{password}}) are fine. */
function urlHasLiteralPassword(url: string): boolean {
  const m = /^[a-z][a-z0-9+.-]*:\/\/([^/@]*)@/i.exec(url.trim());
  if (!m) return false;
  const userinfo = m[1]!;
  const colon = userinfo.indexOf(':');
  if (colon < 0) return false;
  const password = userinfo.slice(colon + 1);
  return password !== '' && !/^\{\{\s*password\s*\}\}$/.test(password);
}

/**
 * Pure: entries that would put a database credential into the resource itself
 * (an inline `password`, or a connection URL with a literal password), and
 * malformed references. Those entries are left out, with a problem that says
 * how to reference a Secret instead.
 */
export function secretRefProblems(desired: DesiredEngineConfig[]): Problem[] {
  const problems: Problem[] = [];
  for (const d of desired) {
    for (const { field, ref } of secretRefsIn(d.body)) {
      if (!ref.name || !ref.key) {
        problems.push({ concern: 'config', id: d.id, message: `${field}: secretKeyRef needs both name and key (a Secret in the Vault resource's namespace)` });
      }
    }
    if (d.type !== 'database' || !/^config(\/|$)/.test(d.id.slice(d.mount.length + 1))) continue;
    if (typeof d.body['password'] === 'string' && d.body['password'] !== '') {
      problems.push({
        concern: 'config',
        id: d.id,
        message: 'password is written inline; keep it in a Secret of the Vault resource\'s namespace and write password: {secretKeyRef: {name: <secret>, key: <key>}}',
      });
    }
    if (typeof d.body['connection_url'] === 'string' && urlHasLiteralPassword(d.body['connection_url'])) {
      problems.push({
        concern: 'config',
        id: d.id,
        message: 'connection_url carries a password; use {{username}}:{{password}} in the URL and username/password from a secretKeyRef',
      });
    }
  }
  return problems;
}

/**
 * Replaces the references in the changes' writes by the Secrets' values. A
 * change whose Secret or key is missing is left out with a problem naming the
 * Secret and key (never a value); the other changes go ahead.
 */
export async function resolveSecretRefs(changes: Change[], readKey: SecretKeyReader | undefined): Promise<{ changes: Change[]; problems: Problem[] }> {
  const out: Change[] = [];
  const problems: Problem[] = [];
  const cache = new Map<string, string | undefined>();
  const read = async (ref: SecretKeyRef): Promise<string | undefined> => {
    const k = `${ref.name}\u0000${ref.key}`;
    if (!cache.has(k)) cache.set(k, readKey ? await readKey(ref.name, ref.key) : undefined);
    return cache.get(k);
  };
  for (const change of changes) {
    let missing: SecretKeyRef | undefined;
    const writes: Change['writes'] = [];
    for (const write of change.writes) {
      if (!write.body) {
        writes.push(write);
        continue;
      }
      const refs = secretRefsIn(write.body);
      if (!refs.length) {
        writes.push(write);
        continue;
      }
      const body: VaultParams = { ...write.body };
      for (const { field, ref } of refs) {
        const value = await read(ref);
        if (value === undefined) {
          missing = ref;
          break;
        }
        body[field] = value;
      }
      if (missing) break;
      writes.push({ ...write, body });
    }
    if (missing) {
      problems.push({ concern: change.concern, id: change.id, message: `Secret ${missing.name} (in the Vault resource's namespace) has no key ${missing.key}; nothing written` });
      continue;
    }
    out.push({ ...change, writes });
  }
  return { changes: out, problems };
}

/**
 * Lines for the operator's own policy: revoking the leases of a database role
 * it deletes (`sys/leases/revoke-prefix/<mount>/creds/<role>`, which needs
 * sudo), for every role it manages or is about to manage, exactly.
 */
export function databaseRevokeLines(desired: DesiredEngineConfig[], managed: string[], mountTypes: ReadonlyMap<string, string>): string[] {
  const ids = new Set<string>([...desired.filter((d) => d.type === 'database').map((d) => d.id), ...managed]);
  const lines: string[] = [];
  for (const id of [...ids].sort()) {
    const role = databaseRoleOf(id, mountTypes);
    if (role) lines.push(`path "sys/leases/revoke-prefix/${role.mount}/creds/${role.name}" { capabilities = ["update", "sudo"] }`);
  }
  return lines;
}

/** `<mount>/roles/<name>` of a database mount -> mount and role name. */
export function databaseRoleOf(id: string, mountTypes: ReadonlyMap<string, string>): { mount: string; name: string } | undefined {
  const [mount, key, ...rest] = id.split('/');
  if (!mount || key !== 'roles' || rest.length !== 1 || !rest[0] || mountTypes.get(mount) !== 'database') return undefined;
  return { mount, name: rest[0] };
}

/** mount path -> engine type, from the spec. */
export function mountTypesOf(specs: SecretEngineSpec[] | undefined): Map<string, string> {
  return new Map((specs ?? []).filter((s) => s.type).map((s) => [trimPath(s.path || s.type), s.type]));
}
