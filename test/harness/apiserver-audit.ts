// The kube-apiserver's own record of every write it answered (its audit log,
// startServers({ apiserverAudit: true })). Tests count who changed what here:
// the user is the authenticated identity, independent of the code under test.
import { existsSync, readFileSync } from 'node:fs';
import { completeLines } from './complete-lines.js';

export interface AuditedWrite {
  user: string;
  verb: string;
  resource: string;
  namespace?: string;
  name?: string;
  code: number;
  /** When the apiserver received the request (ms since the epoch). */
  at: number;
}

/** Every write answered so far, in order (one ResponseComplete entry per request). */
export function auditedWrites(file: string): AuditedWrite[] {
  if (!existsSync(file)) return [];
  const out: AuditedWrite[] = [];
  for (const line of completeLines(readFileSync(file, 'utf8'))) {
    const e = JSON.parse(line) as {
      stage?: string;
      verb?: string;
      user?: { username?: string };
      objectRef?: { resource?: string; subresource?: string; namespace?: string; name?: string };
      responseStatus?: { code?: number };
      requestReceivedTimestamp?: string;
    };
    if (e.stage !== 'ResponseComplete' || !e.verb) continue;
    const resource = [e.objectRef?.resource, e.objectRef?.subresource].filter(Boolean).join('/');
    out.push({
      user: e.user?.username ?? '',
      verb: e.verb,
      resource,
      ...(e.objectRef?.namespace ? { namespace: e.objectRef.namespace } : {}),
      ...(e.objectRef?.name ? { name: e.objectRef.name } : {}),
      code: e.responseStatus?.code ?? 0,
      at: Date.parse(e.requestReceivedTimestamp ?? ''),
    });
  }
  return out;
}
