// `make cluster`: the local cluster for manual use, until Ctrl-C.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stopOnSignals } from './cli-support.js';
import { E2E_ENV_VARIABLE, startCluster } from './cluster.js';

const cluster = await startCluster();
stopOnSignals(() => cluster.stop());
const { memory: _m, kubectlRun: _k, stop: _s, ...info } = cluster;
const infoFile = join(cluster.stateDir, 'e2e-env.json');
writeFileSync(infoFile, `${JSON.stringify(info, null, 2)}\n`, { mode: 0o600 });
const mem = cluster.memory();
process.stdout.write(
  [
    '',
    `Local cluster is up (${(cluster.startup['CoreDNS ready']! / 1000).toFixed(1)} s; control plane + node ${mem.processesTotal} MiB RSS, pods ${mem.pods} MiB).`,
    '',
    `  export KUBECONFIG=${cluster.kubeconfig}`,
    `  alias kubectl=${cluster.kubectl}`,
    '  kubectl get nodes,pods -A',
    '  kubectl apply --server-side -f olm-bundle/install.yaml   # the operator, image already imported',
    '  kubectl apply -f samples/vault-managed.yaml',
    '',
    `Images (imported, never pulled; use imagePullPolicy IfNotPresent or Never):`,
    `  operator ${cluster.images.operator}`,
    `  vault    ${cluster.images.vault} (also tagged ${cluster.images.vaultAliases.join(', ')})`,
    `  app      ${cluster.images.app} (also tagged ${cluster.images.appAliases.join(', ')})`,
    `local-kms: ${cluster.kmsEndpoint} (region ${cluster.kms.region}, key ${cluster.kms.keyAlias}), from pods and this host`,
    `Default StorageClass: ${cluster.storageClass} (hostPath volumes under ${join(cluster.stateDir, 'volumes')})`,
    `Logs: ${join(cluster.stateDir, 'logs')}`,
    `Run e2e tests against it: ${E2E_ENV_VARIABLE}=${infoFile} npx ava --serial --concurrency=1 --verbose test/e2e/<file>.test.ts`,
    '',
    'Press Ctrl-C to stop it (everything it changed on this machine is undone).',
    '',
  ].join('\n'),
);
setInterval(() => undefined, 60_000);
