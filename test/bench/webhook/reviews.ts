// The AdmissionReview both webhook benchmarks send: the same pod for the
// operator and vault-k8s, each with its own annotation prefix; and one POST of it.
import https from 'node:https';
import type { Measured } from '../processes.js';

export function pod(prefix: string, extra: Record<string, string>) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'bench',
      namespace: 'bench-app',
      annotations: { [`${prefix}/agent-inject`]: 'true', [`${prefix}/agent-inject-secret-config`]: 'secret/data/bench/config', ...extra },
    },
    // as the apiserver's ServiceAccount admission leaves it (vault-k8s refuses a pod without the token mount)
    spec: {
      serviceAccountName: 'app',
      volumes: [{ name: 'kube-api-access-bench', projected: { sources: [{ serviceAccountToken: { path: 'token', expirationSeconds: 3607 } }] } }],
      containers: ['app', 'other'].map((name) => ({
        name,
        image: 'busybox:1.36',
        volumeMounts: [{ name: 'kube-api-access-bench', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true }],
      })),
    },
  };
}

export function review(object: unknown, namespace: string): string {
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: '0b4f5a8e-0000-4000-8000-000000000001',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      requestKind: { group: '', version: 'v1', kind: 'Pod' },
      requestResource: { group: '', version: 'v1', resource: 'pods' },
      name: 'bench',
      namespace,
      operation: 'CREATE',
      userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller' },
      object: { ...(object as object), metadata: { ...(object as { metadata: object }).metadata, namespace } },
      dryRun: false,
    },
  });
}

/**
 * One POST of `body` to the webhook; ms from the request's start to the
 * answer's end. `agent: false` opens a new TLS connection. Throws unless the
 * answer is an allowed mutation.
 */
export async function postReview(proc: Measured, body: string, agent: https.Agent | false = false): Promise<number> {
  const started = process.hrtime.bigint();
  const answer = await new Promise<string>((resolve, reject) => {
    const req = https.request(`${proc.webhookUrl}${proc.webhookPath}`, { method: 'POST', agent, rejectUnauthorized: false, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve(text));
    });
    req.on('error', reject);
    req.end(body);
  });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const parsed = JSON.parse(answer) as { response?: { allowed?: boolean; patch?: string } };
  if (!parsed.response?.allowed || !parsed.response.patch) throw new Error(`not a mutation: ${answer.slice(0, 300)}`);
  return ms;
}
