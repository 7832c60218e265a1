// Dynamic hostPath provisioning for the local cluster's default StorageClass,
// run inside the harness process: a Pending claim of the class gets a new
// PersistentVolume on a fresh directory of the state dir; a released volume
// is deleted with its directory. Decisions are pure; the loop does the I/O.
import { mkdirSync, chmodSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { PROVISIONER, STORAGE_CLASS } from './cluster-config.js';
import { note } from './server.js';

export const PROVISIONED_BY = 'pv.kubernetes.io/provisioned-by';

interface Meta {
  name?: string;
  namespace?: string;
  uid?: string;
  annotations?: Record<string, string>;
}
export interface Claim {
  metadata: Meta;
  spec: { storageClassName?: string; volumeName?: string; accessModes?: string[]; volumeMode?: string; resources?: { requests?: Record<string, string> } };
  status?: { phase?: string };
}
export interface Volume {
  metadata: Meta;
  spec: { persistentVolumeReclaimPolicy?: string; hostPath?: { path: string }; claimRef?: { uid?: string } };
  status?: { phase?: string };
}

/** Pure: the volume name of a claim (one per claim uid, so a retry is idempotent). */
export function volumeName(claim: Claim): string {
  return `pvc-${claim.metadata.uid}`;
}

/** Pure: claims of our class that wait for a volume no one has made yet. */
export function claimsToProvision(claims: Claim[], volumes: Volume[]): Claim[] {
  const made = new Set(volumes.map((v) => v.metadata.name));
  return claims.filter(
    (c) =>
      c.status?.phase === 'Pending' &&
      !c.spec.volumeName &&
      c.spec.storageClassName === STORAGE_CLASS &&
      !!c.metadata.uid &&
      !made.has(volumeName(c)),
  );
}

/** Pure: the PersistentVolume for a claim, pre-bound to it. */
export function volumeFor(claim: Claim, root: string): Volume & Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name: volumeName(claim), annotations: { [PROVISIONED_BY]: PROVISIONER } },
    spec: {
      capacity: { storage: claim.spec.resources?.requests?.storage ?? '1Gi' },
      accessModes: claim.spec.accessModes ?? ['ReadWriteOnce'],
      volumeMode: claim.spec.volumeMode ?? 'Filesystem',
      persistentVolumeReclaimPolicy: 'Delete',
      storageClassName: STORAGE_CLASS,
      claimRef: { apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: claim.metadata.namespace, name: claim.metadata.name, uid: claim.metadata.uid },
      hostPath: { path: join(root, volumeName(claim)), type: 'Directory' },
    } as Volume['spec'],
  };
}

/** Pure: our volumes whose claim is gone and whose policy is Delete. */
export function volumesToDelete(volumes: Volume[]): Volume[] {
  return volumes.filter(
    (v) =>
      v.metadata.annotations?.[PROVISIONED_BY] === PROVISIONER &&
      v.spec.persistentVolumeReclaimPolicy === 'Delete' &&
      (v.status?.phase === 'Released' || v.status?.phase === 'Failed'),
  );
}

export type KubeCall = (method: string, path: string, body?: unknown) => Promise<{ status: number; body: string }>;

export class HostPathProvisioner {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly kube: KubeCall,
    /** Volumes are directories below this one. */
    private readonly root: string,
    private readonly intervalMs = 1000,
  ) {}

  start(): void {
    mkdirSync(this.root, { recursive: true });
    const tick = () => {
      if (this.stopped) return;
      this.running = this.once()
        .catch((error: unknown) => note(`provisioner: ${String(error)}`))
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(tick, this.intervalMs);
        });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** One pass: provision what waits, delete what was released. */
  async once(): Promise<void> {
    const [claims, volumes] = await Promise.all([
      this.list<Claim>('/api/v1/persistentvolumeclaims'),
      this.list<Volume>('/api/v1/persistentvolumes'),
    ]);
    for (const claim of claimsToProvision(claims, volumes)) {
      const volume = volumeFor(claim, this.root);
      const dir = volume.spec.hostPath!.path;
      mkdirSync(dir, { recursive: true });
      // fsGroup is not applied to hostPath volumes: any pod user must be able to write
      chmodSync(dir, 0o1777);
      const res = await this.kube('POST', '/api/v1/persistentvolumes', volume);
      if (res.status >= 300 && res.status !== 409) throw new Error(`creating ${volume.metadata.name}: ${res.status} ${res.body}`);
    }
    for (const volume of volumesToDelete(volumes)) {
      const path = volume.spec.hostPath?.path;
      if (path && path.startsWith(`${this.root}/`)) rmSync(path, { recursive: true, force: true });
      const res = await this.kube('DELETE', `/api/v1/persistentvolumes/${volume.metadata.name}`);
      if (res.status >= 300 && res.status !== 404) throw new Error(`deleting ${volume.metadata.name}: ${res.status} ${res.body}`);
    }
  }

  private async list<T>(path: string): Promise<T[]> {
    const res = await this.kube('GET', path);
    if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${res.body.slice(0, 200)}`);
    return (JSON.parse(res.body) as { items: T[] }).items;
  }
}
