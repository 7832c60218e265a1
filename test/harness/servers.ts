// Starts a set of real servers in a fresh temporary directory and tears them
// down again (also when this process dies: see proc.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HarnessEnv, type ConnectionInfo, type TestEnv } from './env.js';
import { EtcdServer } from './etcd.js';
import { KubeApiServer } from './kube-apiserver.js';
import { LocalKmsServer } from './local-kms.js';
import { registerTempDir, unregisterTempDir } from './proc.js';
import { note, type Server } from './server.js';
import { VaultServer, type VaultMode } from './vault.js';
import { requireBinaries, type ServerName } from './versions.js';

export interface StartOptions {
  /** 'dev' (default): unsealed, root token known; 'file': uninitialised, file storage; false: none. */
  vault?: VaultMode | false;
  /** local-kms (default true). */
  kms?: boolean;
  /** etcd + kube-apiserver (default true). */
  apiserver?: boolean;
  /** kube-apiserver audit log of writes (default false; read it with ApiserverAudit). */
  apiserverAudit?: boolean;
  /** More kube-apiserver flags (a private set only). */
  apiserverArgs?: string[];
}

export interface Servers {
  /** The same TestEnv a test file gets from useTestEnv, for these servers. */
  env: TestEnv;
  /** Temporary directory with data, logs, kubeconfig; removed by stopAll(). */
  dir: string;
  etcd: EtcdServer;
  apiserver: KubeApiServer;
  vault: VaultServer;
  kms: LocalKmsServer;
  /** Servers this set actually started, in start order. */
  started: Server[];
  /** Start-up time of each server in ms (first start). */
  startupMs: Record<string, number>;
  stopAll(): Promise<void>;
}

/** Stands in for a server that was not requested, so a mistaken use says so. */
function notStarted<T extends object>(name: string, option: string): T {
  return new Proxy({} as T, {
    get(_target, prop) {
      if (prop === 'then') return undefined; // not a thenable
      throw new Error(`${name} was not started (startServers({ ${option} }))`);
    },
  });
}

const PORT_CLASH = /address already in use|bind: /i;

/** Creates and starts a server; a port taken meanwhile by someone else gets a second and third try. */
async function createAndStart<S extends Server>(create: () => Promise<S>, startupMs: Record<string, number>): Promise<S> {
  for (let attempt = 1; ; attempt++) {
    const server = await create();
    const started = Date.now();
    try {
      await server.start();
      startupMs[server.name] = Date.now() - started;
      return server;
    } catch (error) {
      await server.stop();
      if (attempt < 3 && PORT_CLASH.test(server.process.tail())) {
        note(`${server.name}: port clash, retrying on another port`);
        continue;
      }
      throw error;
    }
  }
}

export async function startServers(opts: StartOptions = {}): Promise<Servers> {
  const vaultMode = opts.vault === undefined ? 'dev' : opts.vault;
  const withKms = opts.kms ?? true;
  const withApiserver = opts.apiserver ?? true;
  const needed: ServerName[] = [];
  if (withApiserver) needed.push('etcd', 'kube-apiserver');
  if (vaultMode) needed.push('vault');
  if (withKms) needed.push('local-kms');
  requireBinaries(needed);

  const dir = mkdtempSync(join(tmpdir(), 'vault-autopilot-'));
  registerTempDir(dir);
  const startupMs: Record<string, number> = {};
  const launched: Server[] = [];
  const track = <S extends Server>(server: S): S => {
    launched.push(server);
    return server;
  };
  const stopAll = async () => {
    // apiserver before etcd, so it does not log a storm of etcd errors
    for (const server of [...launched].reverse()) {
      try {
        await server.stop();
      } catch (error) {
        note(`stopping ${server.name}: ${String(error)}`);
      }
      await server.process.closeLog();
    }
    if (process.env.VAULT_AUTOPILOT_KEEP_TMP === '1') note(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
    unregisterTempDir(dir);
  };

  try {
    const kubeChain = withApiserver
      ? (async () => {
          const etcd = track(await createAndStart(() => EtcdServer.create(dir), startupMs));
          const apiserver = track(await createAndStart(() => KubeApiServer.create(dir, etcd.url, { auditLog: opts.apiserverAudit ?? false, extraArgs: opts.apiserverArgs ?? [] }), startupMs));
          return { etcd, apiserver };
        })()
      : Promise.resolve(undefined);
    const vaultStart = vaultMode ? createAndStart(() => VaultServer.create(dir, vaultMode), startupMs).then(track) : Promise.resolve(undefined);
    const kmsStart = withKms ? createAndStart(() => LocalKmsServer.create(dir), startupMs).then(track) : Promise.resolve(undefined);
    // allSettled: on a failure, tear down only after every start in flight has settled
    const settled = await Promise.allSettled([kubeChain, vaultStart, kmsStart] as const);
    const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failure) throw failure.reason;
    const [kube, vault, kms] = [await kubeChain, await vaultStart, await kmsStart];

    const info: ConnectionInfo = {
      kubeconfigPath: kube?.apiserver.kubeconfigPath ?? '',
      apiserverUrl: kube?.apiserver.url ?? '',
      apiserverCaFile: kube?.apiserver.caFile ?? '',
      vault: { address: vault?.address ?? '', rootToken: vault?.rootToken ?? '' },
      kms: {
        endpoint: kms?.endpoint ?? '',
        region: kms?.region ?? '',
        keyId: kms?.key.keyId ?? '',
        keyAlias: kms?.key.alias ?? '',
        otherKeyId: kms?.otherKey.keyId ?? '',
        otherKeyAlias: kms?.otherKey.alias ?? '',
      },
    };
    return {
      env: new HarnessEnv(info),
      dir,
      etcd: kube?.etcd ?? notStarted<EtcdServer>('etcd', 'apiserver: true'),
      apiserver: kube?.apiserver ?? notStarted<KubeApiServer>('kube-apiserver', 'apiserver: true'),
      vault: vault ?? notStarted<VaultServer>('vault', "vault: 'dev' | 'file'"),
      kms: kms ?? notStarted<LocalKmsServer>('local-kms', 'kms: true'),
      started: launched,
      startupMs,
      stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
