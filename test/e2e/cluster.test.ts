// Self-check of the local cluster (test/harness/cluster.ts): the node is
// Ready, pods run and find Services through CoreDNS, a claim of the default
// StorageClass gets a volume any pod user can write, pods and the host reach
// local-kms, and nothing the cluster listens on is open to other machines.
import { execFileSync } from 'node:child_process';
import test from 'ava';
import { NET, RULE_COMMENT, STORAGE_CLASS } from '../harness/cluster-config.js';
import { kubectl, useCluster, type ClusterInfo } from '../harness/cluster.js';
import { eventually } from '../harness/eventually.js';
import { httpRequest } from '../harness/http.js';

const cluster = useCluster(test);
const NS = `cluster-check-${process.pid}`;
const k = (args: string[], input?: string) => kubectl(cluster(), args, input);

/** A busybox pod (the app image) running `script`, quick to delete. */
function pod(
  c: ClusterInfo,
  name: string,
  script: string,
  extra: { labels?: Record<string, string>; volume?: string; user?: number; subdomain?: string } = {},
): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NS, labels: extra.labels ?? {} },
    spec: {
      terminationGracePeriodSeconds: 0,
      restartPolicy: 'Never',
      // a StatefulSet's pods look like this: <hostname>.<headless service>.<namespace>.svc
      ...(extra.subdomain ? { hostname: name, subdomain: extra.subdomain } : {}),
      ...(extra.user ? { securityContext: { runAsUser: extra.user, runAsGroup: extra.user } } : {}),
      containers: [
        {
          name: 'main',
          image: c.images.app,
          imagePullPolicy: 'Never',
          command: ['/bin/sh', '-c', script],
          ...(extra.volume ? { volumeMounts: [{ name: 'data', mountPath: '/data' }] } : {}),
        },
      ],
      ...(extra.volume ? { volumes: [{ name: 'data', persistentVolumeClaim: { claimName: extra.volume } }] } : {}),
    },
  });
}

async function podSucceeded(name: string): Promise<string> {
  return eventually(
    async () => {
      const phase = (await k(['-n', NS, 'get', 'pod', name, '-o', 'jsonpath={.status.phase}'])).trim();
      if (phase === 'Failed') throw new Error(`pod ${name} failed:\n${await k(['-n', NS, 'logs', name])}`);
      if (phase !== 'Succeeded') throw new Error(`pod ${name} is ${phase || 'not there'}`);
      return k(['-n', NS, 'logs', name]);
    },
    { timeoutMs: 60_000, intervalMs: 500 },
  );
}

test.before(async () => {
  await k(['create', 'namespace', NS]);
});

test.after.always(async () => {
  await k(['delete', 'namespace', NS, '--wait=false']).catch(() => undefined);
});

test.serial('the node is Ready, on the bridge address, with the cluster version', async (t) => {
  const node = JSON.parse(await k(['get', 'node', '-o', 'json'])) as {
    items: Array<{ metadata: { name: string }; status: { addresses: Array<{ type: string; address: string }>; conditions: Array<{ type: string; status: string }>; nodeInfo: { kubeletVersion: string } } }>;
  };
  t.is(node.items.length, 1);
  const [only] = node.items;
  t.true(only!.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True'));
  t.deepEqual(only!.status.addresses.find((a) => a.type === 'InternalIP')?.address, NET.nodeIP);
  t.regex(only!.status.nodeInfo.kubeletVersion, /^v1\.\d+\.\d+$/);
});

test.serial('a pod finds a Service and a peer pod (headless, as Raft peers do) through CoreDNS', async (t) => {
  const c = cluster();
  await k(['apply', '-f', '-'], pod(c, 'web', 'mkdir -p /www && echo hello-from-web > /www/index.html && exec httpd -f -p 8080 -h /www', { labels: { app: 'web' }, subdomain: 'peers' }));
  await k(['-n', NS, 'expose', 'pod', 'web', '--port=80', '--target-port=8080', '--name=web']);
  await k(['-n', NS, 'create', 'service', 'clusterip', 'peers', '--clusterip=None', '--tcp=8080:8080']);
  await k(['-n', NS, 'patch', 'service', 'peers', '-p', '{"spec":{"selector":{"app":"web"}}}']);
  await k(['-n', NS, 'wait', '--for=condition=Ready', 'pod/web', '--timeout=60s']);
  const fqdn = `web.${NS}.svc.${NET.domain}`;
  const peer = `web.peers.${NS}.svc.${NET.domain}`;
  await k(['apply', '-f', '-'], pod(c, 'client', `nslookup ${fqdn} && wget -qO- http://web.${NS}.svc/ && nslookup ${peer}`));
  const out = await podSucceeded('client');
  const serviceIP = (await k(['-n', NS, 'get', 'service', 'web', '-o', 'jsonpath={.spec.clusterIP}'])).trim();
  const podIP = (await k(['-n', NS, 'get', 'pod', 'web', '-o', 'jsonpath={.status.podIP}'])).trim();
  t.true(serviceIP.startsWith('10.96.'), serviceIP);
  t.true(out.includes(serviceIP), `nslookup answered ${serviceIP}:\n${out}`);
  t.true(out.includes('hello-from-web'), out);
  t.true(podIP.startsWith('10.88.') && out.includes(podIP), `the peer name resolves to the pod IP ${podIP}:\n${out}`);
});

test.serial('a claim of the default StorageClass binds; a non-root pod writes to it; deleting it deletes the volume', async (t) => {
  const c = cluster();
  const classes = JSON.parse(await k(['get', 'storageclass', '-o', 'json'])) as { items: Array<{ metadata: { name: string; annotations?: Record<string, string> } }> };
  const defaults = classes.items.filter((s) => s.metadata.annotations?.['storageclass.kubernetes.io/is-default-class'] === 'true');
  t.deepEqual(defaults.map((s) => s.metadata.name), [STORAGE_CLASS]);
  // no storageClassName: the DefaultStorageClass admission plugin fills it in
  await k(['apply', '-f', '-'], JSON.stringify({
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name: 'data', namespace: NS },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
  }));
  await k(['-n', NS, 'wait', '--for=jsonpath={.status.phase}=Bound', 'pvc/data', '--timeout=30s']);
  const volume = (await k(['-n', NS, 'get', 'pvc', 'data', '-o', 'jsonpath={.spec.volumeName}'])).trim();
  await k(['apply', '-f', '-'], pod(c, 'writer', 'echo written-by-$(id -u) > /data/f && cat /data/f', { volume: 'data', user: 100 }));
  t.true((await podSucceeded('writer')).includes('written-by-100'));
  await k(['-n', NS, 'delete', 'pod', 'writer', '--wait=true']);
  await k(['-n', NS, 'delete', 'pvc', 'data', '--wait=true']);
  await eventually(
    async () => {
      const left = await k(['get', 'pv', volume, '--ignore-not-found', '-o', 'name']);
      if (left.trim()) throw new Error(`${volume} still there`);
    },
    { timeoutMs: 30_000, intervalMs: 500 },
  );
  t.pass();
});

test.serial('local-kms answers pods and the host at the same endpoint', async (t) => {
  const c = cluster();
  const target = 'TrentService.ListAliases';
  const fromHost = await httpRequest(`${c.kmsEndpoint}/`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': target },
    body: '{}',
  });
  t.is(fromHost.status, 200);
  t.true(fromHost.body.includes(c.kms.keyAlias));
  await k(['apply', '-f', '-'], pod(c, 'kms-client',
    `wget -qO- --header 'Content-Type: application/x-amz-json-1.1' --header 'X-Amz-Target: ${target}' --post-data '{}' ${c.kmsEndpoint}/`));
  t.true((await podSucceeded('kms-client')).includes(c.kms.keyAlias));
});

test.serial('the apiserver, local-kms and the pod network are closed to other machines', (t) => {
  const c = cluster();
  const rules = execFileSync('iptables', ['-S'], { encoding: 'utf8' }).split('\n').filter((r) => r.includes(RULE_COMMENT));
  const apiPort = new URL(c.apiserverUrl).port;
  const kmsPort = new URL(c.kmsEndpoint).port;
  t.true(rules.some((r) => r.startsWith('-A FORWARD') && r.includes(`-s ${NET.podCIDR}`) && r.includes(`! -o ${NET.bridge}`) && r.endsWith('-j DROP')), rules.join('\n'));
  t.true(rules.some((r) => r.startsWith('-A INPUT') && r.includes(`${apiPort},${kmsPort}`) && r.endsWith('-j DROP')), rules.join('\n'));
});

test.serial('the images the samples and install.yaml name are on the node under those names (nothing can be pulled here)', async (t) => {
  const c = cluster();
  // the operator image is imported while the node starts: wait for it, then list what containerd holds
  const names = await eventually(async () => {
    const listed = execFileSync('ctr', ['--address', c.containerd.socket, '--namespace', c.containerd.namespace, 'images', 'ls', '-q'], { encoding: 'utf8' });
    if (!listed.includes('ghcr.io/vault-autopilot/vault-autopilot:0.1.0')) throw new Error('operator image not imported yet');
    return listed;
  }, { timeoutMs: 120_000 });
  for (const image of ['docker.io/hashicorp/vault:1.21.4', 'docker.io/library/busybox:1.36', 'ghcr.io/vault-autopilot/vault-autopilot:0.1.0']) {
    t.true(names.includes(image), `${image} not imported`);
  }
});
