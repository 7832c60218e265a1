// Vault's own record of every request it served: a file audit device on a
// harness Vault. Tests count what the operator did here — independently of
// the code under test and of its client wrappers.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { completeLines } from './complete-lines.js';
import { httpRequest } from './http.js';

export interface AuditedRequest {
  /** Vault's operation: read, list, create, update, delete. */
  operation: string;
  /** Path inside Vault, without the /v1/ prefix. */
  path: string;
  /** The answer's status as Vault logged it: an error string when it failed. */
  error?: string;
  /** The token's display name (e.g. `token-replica-a` for a token created with display_name replica-a). */
  displayName?: string;
  /** When Vault logged the answer (ms since the epoch). */
  at?: number;
}

export const WRITE_OPERATIONS = new Set(['create', 'update', 'delete', 'patch']);

export class VaultAudit {
  private constructor(readonly file: string) {}

  /** Enables a file audit device (Vault refuses other extensions than .log). */
  static async enable(vault: { address: string; rootToken: string }): Promise<VaultAudit> {
    const file = join(mkdtempSync(join(tmpdir(), 'vault-audit-')), 'audit.log');
    // a device path of its own: several files may count on one shared Vault
    const res = await httpRequest(`${vault.address}/v1/sys/audit/test-file-${randomBytes(4).toString('hex')}`, {
      method: 'PUT',
      headers: { 'x-vault-token': vault.rootToken, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'file', options: { file_path: file } }),
    });
    if (res.status !== 204 && res.status !== 200) throw new Error(`enabling the audit device failed: ${res.status} ${res.body}`);
    return new VaultAudit(file);
  }

  /** Every request Vault has answered so far, in order (response entries only; one per request). */
  responses(): AuditedRequest[] {
    if (!existsSync(this.file)) return [];
    const out: AuditedRequest[] = [];
    for (const line of completeLines(readFileSync(this.file, 'utf8'))) {
      const entry = JSON.parse(line) as { type?: string; time?: string; auth?: { display_name?: string }; request?: { operation?: string; path?: string }; error?: string };
      if (entry.type !== 'response' || !entry.request?.path) continue;
      out.push({
        operation: entry.request.operation ?? '',
        path: entry.request.path,
        ...(entry.error ? { error: entry.error } : {}),
        ...(entry.auth?.display_name ? { displayName: entry.auth.display_name } : {}),
        ...(entry.time ? { at: Date.parse(entry.time) } : {}),
      });
    }
    return out;
  }

  /** A position to count from. */
  mark(): number {
    return this.responses().length;
  }

  /** Requests answered after `mark`. */
  since(mark: number): AuditedRequest[] {
    return this.responses().slice(mark);
  }
}
