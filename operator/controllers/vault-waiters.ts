// Objects waiting for a `Vault` resource (missing, or not usable yet), by
// that resource, so a watch on Vaults can enqueue exactly them when it
// changes. Shared by the ServiceAccount and KMSVaultSecret lifecycles.
/** Object keys (`<namespace>/<name>`) by the `<namespace>/<name>` of the Vault they wait for. */
export class VaultWaiters {
  readonly #byVault = new Map<string, Set<string>>();

  wait(vault: string, key: string): void {
    this.settle(key);
    const set = this.#byVault.get(vault) ?? new Set<string>();
    set.add(key);
    this.#byVault.set(vault, set);
  }

  settle(key: string): void {
    for (const [vault, set] of this.#byVault) {
      set.delete(key);
      if (set.size === 0) this.#byVault.delete(vault);
    }
  }

  waitingFor(vault: string): string[] {
    return [...(this.#byVault.get(vault) ?? [])];
  }
}
