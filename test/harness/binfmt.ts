// qemu-aarch64 in binfmt_misc, so that arm64 binaries run on this amd64
// machine (inside containers too: Debian registers it with flag F, the
// interpreter is opened at registration). Used by the arm64 operator runs.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

const BINFMT = '/proc/sys/fs/binfmt_misc';
export const AARCH64_ENTRY = `${BINFMT}/qemu-aarch64`;
const DEBIAN_CONF = '/usr/lib/binfmt.d/qemu-aarch64.conf';

export type BinfmtResult = { ok: true; registeredByUs: boolean } | { ok: false; reason: string };

/** Mounts binfmt_misc and registers Debian's qemu-aarch64 entry when missing; says why it cannot. */
export function ensureAarch64Binfmt(): BinfmtResult {
  try {
    if (!existsSync(`${BINFMT}/status`)) execFileSync('mount', ['-t', 'binfmt_misc', 'binfmt_misc', BINFMT], { stdio: 'pipe' });
    if (existsSync(AARCH64_ENTRY)) {
      if (!readFileSync(AARCH64_ENTRY, 'utf8').includes('enabled')) return { ok: false, reason: `${AARCH64_ENTRY} is disabled` };
      return { ok: true, registeredByUs: false };
    }
    if (!existsSync(DEBIAN_CONF)) return { ok: false, reason: `${DEBIAN_CONF} missing (apt-get install qemu-user-static; test/cluster/build.sh does)` };
    writeFileSync(`${BINFMT}/register`, readFileSync(DEBIAN_CONF, 'utf8').trim());
    return { ok: true, registeredByUs: true };
  } catch (error) {
    return { ok: false, reason: `binfmt_misc unusable here: ${error instanceof Error ? error.message : String(error)}` };
  }
}

/** Removes the entry again (only when ensureAarch64Binfmt added it). */
export function releaseAarch64Binfmt(result: BinfmtResult): void {
  if (result.ok && result.registeredByUs && existsSync(AARCH64_ENTRY)) writeFileSync(AARCH64_ENTRY, '-1');
}
