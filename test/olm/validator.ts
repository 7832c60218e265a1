// The operator-framework bundle validators (test/olm/validate, Go, built and
// cached by test/olm/build.sh) for tests: no fallback, no skip -- if the
// binary cannot be built or run, the caller's test fails with the reason.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
/** The Kubernetes version the removed-API check judges against: the one the project tests on. */
export const VALIDATOR_K8S_VERSION = '1.36';

let binary: string | undefined;

/** Path of the validator binary; builds it on first use (cached across runs, instant when warm). */
export function bundleValidator(): string {
  if (binary) return binary;
  let out: string;
  try {
    out = execFileSync('bash', [join(HERE, 'build.sh'), 'bundle-validate'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`cannot build the bundle validator (test/olm/build.sh bundle-validate): ${e.stderr || e.message}`);
  }
  binary = out.trim().split('\n').pop()!;
  return binary;
}

export interface ValidatorRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function validateBundle(dir: string, k8sVersion = VALIDATOR_K8S_VERSION): ValidatorRun {
  const r = spawnSync(bundleValidator(), ['-k8s-version', k8sVersion, dir], { encoding: 'utf8' });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The ClusterServiceVersion CRD of the operator-framework/api version the validator is built on (YAML). */
export function csvCrdYaml(): string {
  return execFileSync(bundleValidator(), ['-print-csv-crd'], { encoding: 'utf8' });
}

/** Writes bundle files (relative path -> content, as generatedFiles('bundle') returns) into a new temp directory. */
export function writeBundle(files: Map<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'va-bundle-'));
  for (const [path, content] of files) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  return dir;
}
