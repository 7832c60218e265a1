// The Vault and KMS clients the Vault lifecycle keeps across reconciles: one
// per node address (unauthenticated: seal status, init, unseal), one per
// address and identity (the operator's configuration client, which caches
// its login), one KMS client per region.
import type { Decryptor, Encryptor } from '../../kms/decryptor.js';
import { VaultClient, type VaultAuth } from '../../vault/client.js';

export class VaultClients {
  private readonly nodeClients = new Map<string, VaultClient>();
  private readonly configClients = new Map<string, VaultClient>();
  private readonly kmsClients = new Map<string, Encryptor & Decryptor>();

  constructor(private readonly onVaultClient?: (client: VaultClient) => void) {}

  node(address: string, caCert: string | undefined): VaultClient {
    const key = `${address}|${caCert ?? ''}`;
    let client = this.nodeClients.get(key);
    if (!client) {
      client = new VaultClient({ address, ...(caCert ? { caCert } : {}), auth: { method: 'token' } });
      this.nodeClients.set(key, client);
      this.onVaultClient?.(client);
    }
    return client;
  }

  config(address: string, caCert: string | undefined, auth: VaultAuth, identity: string): VaultClient {
    const key = `${address}|${caCert ?? ''}|${identity}`;
    let client = this.configClients.get(key);
    if (!client) {
      client = new VaultClient({ address, ...(caCert ? { caCert } : {}), auth });
      this.configClients.set(key, client);
      this.onVaultClient?.(client);
    }
    return client;
  }

  /** The KMS client of one region (`make` builds it the first time). */
  kms(region: string | undefined, make: () => Encryptor & Decryptor): Encryptor & Decryptor {
    let kms = this.kmsClients.get(region ?? '');
    if (!kms) {
      kms = make();
      this.kmsClients.set(region ?? '', kms);
    }
    return kms;
  }

  /** Drops the clients of a deleted Vault resource. */
  forget(namespace: string, name: string): void {
    for (const [key] of this.configClients) if (key.startsWith(`${namespace}/${name}`)) this.configClients.delete(key);
  }
}
