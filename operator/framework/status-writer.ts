// The one writer of a reconciled object's /status: a merge patch, skipped when
// it would change nothing; on a 409 the object is read again and re-checked.
import type { KubernetesObject } from '@kubernetes/client-node';
import { errorCode, PATCH, resourcePath, type RawKube } from './kube.js';
import { isStatusUnchanged } from './status.js';
import type { ResourceRef } from './watch.js';

export class StatusWriter {
  #current: KubernetesObject;

  constructor(
    private readonly raw: RawKube,
    private readonly ref: ResourceRef & { name: string },
    current: KubernetesObject,
  ) {
    this.#current = current;
  }

  /** The latest copy of the object (updated by patch). */
  current(): KubernetesObject {
    return this.#current;
  }

  /** Merge-patches /status; makes no request when nothing would change. */
  async patch(status: Record<string, unknown>): Promise<void> {
    const { group, version, plural, namespace, name } = this.ref;
    for (let attempt = 1; ; attempt++) {
      const existing = (this.#current as { status?: unknown }).status;
      if (isStatusUnchanged(existing, status)) return;
      try {
        this.#current = await this.raw.request<KubernetesObject>({
          method: 'PATCH',
          path: resourcePath(group, version, plural, namespace, name, 'status'),
          body: { status },
          contentType: PATCH.merge,
          timeoutMs: 30_000,
        });
        return;
      } catch (err) {
        if (errorCode(err) !== 409 || attempt >= 3) throw err;
        // Conflict: read the object again and re-check against its status.
        this.#current = await this.raw.request<KubernetesObject>({
          method: 'GET',
          path: resourcePath(group, version, plural, namespace, name),
          timeoutMs: 30_000,
        });
      }
    }
  }
}
