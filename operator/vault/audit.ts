// Audit devices: normalise desired, read actual, pure plan(), apply().
// Vault cannot tune an audit device, so a changed device is disabled and
// enabled again in one change.
import type { AuditDeviceSpec, VaultParams } from '../api/vault.js';
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

export interface DesiredAuditDevice {
  path: string;
  type: string;
  description?: string;
  options: VaultParams;
}

export interface ActualAuditDevice {
  type: string;
  description: string;
  options: VaultParams;
}

export type ActualAuditDevices = Map<string, ActualAuditDevice>;

export function normaliseAudit(specs: AuditDeviceSpec[] | undefined): { desired: DesiredAuditDevice[]; problems: Problem[] } {
  const problems: Problem[] = [];
  const desired: DesiredAuditDevice[] = [];
  const pathOf = (s: AuditDeviceSpec) => trimPath(s.path ?? s.type ?? '');
  for (const path of duplicates((specs ?? []).map(pathOf))) {
    problems.push({ concern: 'audit', id: path, message: `audit path "${path}" is listed more than once` });
  }
  for (const spec of specs ?? []) {
    const path = pathOf(spec);
    if (!spec.type || !path) {
      problems.push({ concern: 'audit', id: path || '?', message: 'an audit device needs a type' });
      continue;
    }
    if (desired.some((d) => d.path === path)) continue;
    desired.push({
      path,
      type: spec.type,
      ...(spec.description !== undefined ? { description: spec.description } : {}),
      options: { ...(spec.options ?? {}) },
    });
  }
  return { desired, problems };
}

interface SysAuditEntry {
  type: string;
  description?: string;
  options?: VaultParams | null;
}

export async function readAudit(client: VaultClient): Promise<ActualAuditDevices> {
  const res = await client.request<{ data?: Record<string, SysAuditEntry> } & Record<string, unknown>>('GET', 'sys/audit');
  const devices = (res.data.data ?? res.data) as Record<string, SysAuditEntry>;
  const actual: ActualAuditDevices = new Map();
  for (const [rawPath, entry] of Object.entries(devices)) {
    if (!entry || typeof entry !== 'object' || typeof entry.type !== 'string') continue;
    actual.set(trimPath(rawPath), { type: entry.type, description: entry.description ?? '', options: entry.options ?? {} });
  }
  return actual;
}

export function planAudit(desired: DesiredAuditDevice[], actual: ActualAuditDevices, managed: string[]): Plan {
  const changes: Change[] = [];
  const enable = (d: DesiredAuditDevice) => ({
    method: 'PUT' as const,
    path: `sys/audit/${d.path}`,
    body: { type: d.type, ...(d.description !== undefined ? { description: d.description } : {}), options: d.options },
  });
  for (const want of desired) {
    const have = actual.get(want.path);
    if (!have) {
      changes.push({ concern: 'audit', action: 'create', id: want.path, writes: [enable(want)], summary: `enabled audit device ${want.path} (${want.type})` });
      continue;
    }
    const keys = differingKeys(want.options, have.options);
    const typeDiffers = have.type !== want.type;
    const descriptionDiffers = want.description !== undefined && want.description !== have.description;
    if (!keys.length && !typeDiffers && !descriptionDiffers) continue;
    changes.push({
      concern: 'audit',
      action: 'update',
      id: want.path,
      writes: [{ method: 'DELETE', path: `sys/audit/${want.path}` }, enable(want)],
      summary: `re-enabled audit device ${want.path} (${[...(typeDiffers ? ['type'] : []), ...keys.map((k) => `options.${k}`), ...(descriptionDiffers ? ['description'] : [])].join(', ')})`,
    });
  }
  const wanted = new Set(desired.map((d) => d.path));
  for (const path of managed) {
    if (wanted.has(path) || !actual.has(path)) continue;
    changes.push({ concern: 'audit', action: 'delete', id: path, writes: [{ method: 'DELETE', path: `sys/audit/${path}` }], summary: `disabled audit device ${path}` });
  }
  return { changes, problems: [] };
}

export function applyAudit(client: VaultClient, changes: Change[]): Promise<ApplyResult> {
  return applyChanges(client, changes);
}
