// The Vault and KMS clients the Vault lifecycle keeps across reconciles, per
// Vault resource: one per node address (unauthenticated: seal status, init,
// unseal), one per address and identity (the operator's configuration
// client, which caches its login). KMS clients are per region and shared.
// A deleted Vault's clients are dropped whole (forget), so a long-running
// operator does not keep clients, or their cached logins, of Vaults gone.
import type { Decryptor, Encryptor } from '../../kms/decryptor.js';
import { VaultClient, type VaultAuth } from '../../vault/client.js';

type Kms = Encryptor & Decryptor;

/** The clients of one Vault resource. */
export class VaultClients {
  private readonly nodeClients = new Map<string, VaultClient>();
  private readonly configClients = new Map<string, VaultClient>();

  constructor(private readonly kmsClients: Map<string, Kms>) {}

  node(address: string, caCert: string | undefined): VaultClient {
    const key = `${address}|${caCert ?? ''}`;
    let client = this.nodeClients.get(key);
    if (!client) {
      client = new VaultClient({ address, ...(caCert ? { caCert } : {}), auth: { method: 'token' } });
      this.nodeClients.set(key, client);
    }
    return client;
  }

  config(address: string, caCert: string | undefined, auth: VaultAuth, identity: string): VaultClient {
    const key = `${address}|${caCert ?? ''}|${identity}`;
    let client = this.configClients.get(key);
    if (!client) {
      client = new VaultClient({ address, ...(caCert ? { caCert } : {}), auth });
      this.configClients.set(key, client);
    }
    return client;
  }

  /** The KMS client of one region (`make` builds it the first time). */
  kms(region: string | undefined, make: () => Kms): Kms {
    let kms = this.kmsClients.get(region ?? '');
    if (!kms) {
      kms = make();
      this.kmsClients.set(region ?? '', kms);
    }
    return kms;
  }

  get size(): number {
    return this.nodeClients.size + this.configClients.size;
  }
}

/** Every Vault resource's clients, by namespace/name. */
export class VaultClientCache {
  private readonly byVault = new Map<string, VaultClients>();
  private readonly kmsClients = new Map<string, Kms>();

  of(namespace: string, name: string): VaultClients {
    const key = `${namespace}/${name}`;
    let clients = this.byVault.get(key);
    if (!clients) {
      clients = new VaultClients(this.kmsClients);
      this.byVault.set(key, clients);
    }
    return clients;
  }

  /** Drops the node and configuration clients of a deleted Vault resource. */
  forget(namespace: string, name: string): void {
    this.byVault.delete(`${namespace}/${name}`);
  }

  has(namespace: string, name: string): boolean {
    return this.byVault.has(`${namespace}/${name}`);
  }

  /** Vault resources with clients kept (tests). */
  get vaults(): number {
    return this.byVault.size;
  }
}
