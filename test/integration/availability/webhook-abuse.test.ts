// The REAL operator binary's admission webhook under abuse, on loopback:
// 8 MiB bodies (declared and streamed), malformed JSON, 200 concurrent
// connections, slow clients trickling bytes. RSS is sampled throughout and
// must stay under the Deployment's memory limit; normal reviews sent during
// the abuse are still answered, and their latency is printed.
import test from 'ava';
import * as tls from 'node:tls';
import { RESOURCES } from '../../../operator/deploy/deployment.js';
import { WITHIN, startOperatorProcess, useTestEnv, type OperatorProcess } from '../../harness/index.js';
import { freePort } from '../../harness/ports.js';
import { admissionReview, postWebhook, rssMiB, writeWebhookCerts } from './helpers.js';

const env = useTestEnv(test, { vault: false, kms: false });
const LIMIT_MIB = Number.parseInt(RESOURCES.limits.memory, 10); // "384Mi"

let proc: OperatorProcess;
let port: number;
let caPem: string;
let ns: string;

test.before(async () => {
  const e = env();
  ns = await e.namespace('avail-webhook');
  const certs = writeWebhookCerts();
  caPem = certs.caPem;
  port = await freePort();
  proc = await startOperatorProcess({
    entry: 'operator/main.ts',
    env: {
      KUBECONFIG: e.kubeconfigPath,
      VAULT_AUTOPILOT_LIFECYCLES: 'webhook',
      VAULT_AUTOPILOT_NAMESPACE: ns,
      VAULT_AUTOPILOT_HEALTH_PORT: '0',
      VAULT_AUTOPILOT_WEBHOOK_PORT: String(port),
      VAULT_AUTOPILOT_WEBHOOK_HOST: '127.0.0.1',
      VAULT_AUTOPILOT_WEBHOOK_SELF_MANAGED_CERTS: 'false',
      VAULT_AUTOPILOT_WEBHOOK_CERT_DIR: certs.dir,
      // no periodic CA sync on the shared apiserver
      VAULT_AUTOPILOT_WEBHOOK_CA_SYNC_INTERVAL_MS: '86400000',
      // as the Deployment runs it
      NODE_OPTIONS: '--max-old-space-size=224',
    },
  });
  await proc.waitForOutput(/admission webhook server listening/, WITHIN.start.timeoutMs);
});

test.after.always(async () => {
  await proc?.kill('SIGTERM');
});

/**
 * Opens a TLS connection and writes `head`, then `body` in `pieces` with `pauseMs` between.
 * `answer`: the status line or the socket's fate; `started`: the head is written (or the socket is gone).
 */
function trickle(head: string, body: Buffer, pieces: number, pauseMs: number, timeoutMs = 30_000): { answer: Promise<string>; started: Promise<void> } {
  let started!: () => void;
  const startedP = new Promise<void>((r) => (started = r));
  const answer = new Promise<string>((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca: caPem, servername: 'localhost' }, async () => {
      socket.write(head, () => started());
      const size = Math.ceil(body.length / pieces);
      for (let i = 0; i < pieces && !socket.destroyed; i++) {
        socket.write(body.subarray(i * size, (i + 1) * size));
        if (pauseMs) await new Promise((r) => setTimeout(r, pauseMs)); // the abuse: a slow client
      }
    });
    let text = '';
    // 30 s: three times the server's 10 s body deadline; an answer later than that is no answer (asserted below)
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.on('data', (c) => {
      text += c.toString();
      if (text.includes('\r\n')) socket.destroy(); // the status line is the answer; keep-alive would hold the socket
    });
    socket.on('close', () => {
      clearTimeout(timer);
      started();
      resolve(text.split('\r\n')[0] || 'closed without answer');
    });
    socket.on('error', () => undefined);
  });
  return { answer, started: startedP };
}

const percentile = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor((values.length * p) / 100))]!;

test.serial('abuse keeps RSS under the shipped limit; normal reviews are answered throughout', async (t) => {
  const pid = proc.pid!;
  const idle = rssMiB(pid);
  let peak = idle;
  const sampler = setInterval(() => {
    try {
      peak = Math.max(peak, rssMiB(pid));
    } catch {
      // process gone: the assertions below say so
    }
  }, 50);
  t.teardown(() => clearInterval(sampler));

  // baseline latency of a normal review
  const baseline: number[] = [];
  for (let i = 0; i < 30; i++) {
    const r = await postWebhook(port, caPem, admissionReview(ns, `base-${i}`));
    t.is(r.status, 200);
    baseline.push(r.ms);
  }

  const eight = Buffer.alloc(8 * 1024 * 1024, 0x61);
  const headLen = (n: number) => `POST /mutate-pods HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${n}\r\n\r\n`;
  const headChunked = 'POST /mutate-pods HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n';
  const chunked = Buffer.concat([Buffer.from(`${eight.length.toString(16)}\r\n`), eight, Buffer.from('\r\n0\r\n\r\n')]);

  const abuse: Array<ReturnType<typeof trickle>> = [];
  // 20 declared 8 MiB bodies, 20 streamed 8 MiB chunked bodies (no length up front)
  for (let i = 0; i < 20; i++) abuse.push(trickle(headLen(eight.length), eight, 8, 0));
  for (let i = 0; i < 20; i++) abuse.push(trickle(headChunked, chunked, 64, 5));
  // 30 slow clients: a 1.5 MiB body at 32 KiB per 300 ms (would take 15 s)
  const slowBody = Buffer.alloc(1536 * 1024, 0x62);
  for (let i = 0; i < 30; i++) abuse.push(trickle(headLen(slowBody.length), slowBody, 48, 300));
  // 50 malformed bodies
  const malformed: Array<Promise<{ status: number }>> = [];
  for (let i = 0; i < 50; i++) malformed.push(postWebhook(port, caPem, i % 2 ? '{"apiVersion": "admission.k8s.io/v1", "kind": ' : Buffer.alloc(1024 * 1024, 0x7b)));
  // 200 concurrent normal reviews on 200 connections, during all of the above: once every abusive client is connected and sending
  await Promise.all(abuse.map((a) => a.started));
  // 20 s: twice the apiserver's webhook timeout (10 s), as 200 reviews queue on 2 loaded cores here; a real
  // apiserver would give each its own 10 s. Wall clock is the property: an answer too late is a failed admission.
  const concurrent = await Promise.all(Array.from({ length: 200 }, (_, i) => postWebhook(port, caPem, admissionReview(ns, `c-${i}`), { timeoutMs: 20_000 })));
  // and a trickle of normal reviews one after another while the slow clients still hang on
  const during: number[] = [];
  for (let i = 0; i < 30; i++) {
    const r = await postWebhook(port, caPem, admissionReview(ns, `during-${i}`));
    t.is(r.status, 200);
    during.push(r.ms);
  }
  const abuseResults = await Promise.all(abuse.map((a) => a.answer));
  const malformedResults = await Promise.all(malformed);
  clearInterval(sampler);

  const big = abuseResults.slice(0, 40);
  const slow = abuseResults.slice(40);
  const count = (list: string[], re: RegExp) => list.filter((s) => re.test(s)).length;
  t.is(concurrent.filter((r) => r.status === 200).length, 200, 'all 200 concurrent reviews answered');
  t.true(malformedResults.every((r) => r.status === 400 || r.status === 413), 'malformed bodies refused');
  t.is(count(big.slice(0, 20), / 413 /), 20, `every declared 8 MiB body refused before it is read: 413 (${big.slice(0, 20).join(', ')})`);
  // a streamed one is refused at 2 MiB (413), by the byte budget (503), or, when the loaded machine cannot
  // deliver 2 MiB within the body deadline, by that deadline (408): never read whole, never answered 200
  t.is(count(big.slice(20), / 413 | 503 | 408 /), 20, `every streamed 8 MiB body refused (${big.slice(20).join(', ')})`);
  t.is(count(slow, / 408 | 503 /), 30, `slow clients cut off: 408 deadline or 503 byte budget (${slow.join(', ')})`);
  t.true(peak < LIMIT_MIB, `peak RSS ${peak} MiB under the ${LIMIT_MIB} MiB limit`);
  const after = await postWebhook(port, caPem, admissionReview(ns, 'after'));
  t.is(after.status, 200);
  t.log(
    `RSS idle ${idle} MiB, peak ${peak} MiB (limit ${LIMIT_MIB} MiB); 40 x 8 MiB -> ${count(big, / 413 /)} x 413 + ${count(big, / 503 /)} x 503 + ${count(big, / 408 /)} x 408, 30 slow -> ${count(slow, / 408 /)} x 408 + ${count(slow, / 503 /)} x 503, 50 malformed -> 400/413; ` +
      `200 concurrent: p50 ${percentile(concurrent.map((r) => r.ms), 50).toFixed(0)} ms, max ${Math.max(...concurrent.map((r) => r.ms)).toFixed(0)} ms; ` +
      `sequential review p50/p99 before ${percentile(baseline, 50).toFixed(1)}/${percentile(baseline, 99).toFixed(1)} ms, during slow clients ${percentile(during, 50).toFixed(1)}/${percentile(during, 99).toFixed(1)} ms`,
  );
});
