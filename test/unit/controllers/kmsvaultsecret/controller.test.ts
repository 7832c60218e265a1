// The controller's I/O sequence against in-memory fakes of Vault, KMS and the
// reconcile context: what is written, when, and what never is.
import { Writable } from 'node:stream';
import test from 'ava';
import { NAMESPACE_CONTEXT_KEY, type KMSVaultSecret, type KMSVaultSecretStatus } from '../../../../operator/api/kmsvaultsecret.js';
import { KmsVaultSecretController } from '../../../../operator/controllers/kmsvaultsecret/controller.js';
import { ReportedFailure } from '../../../../operator/framework/index.js';
import { defaultKmsVaultSecretSettings } from '../../../../operator/controllers/kmsvaultsecret/settings.js';
import { FakeClock } from '../../../../operator/framework/clock.js';
import { createLogger } from '../../../../operator/framework/logger.js';
import type { ReconcileContext } from '../../../../operator/framework/operator.js';
import { isStatusUnchanged, applyMergePatch } from '../../../../operator/framework/status.js';
import { KmsError, KmsFailure, type DecryptRequest, type Decryptor } from '../../../../operator/kms/decryptor.js';
import { VaultClient, VaultError, type HttpMethod, type RequestOptions, type VaultResponse } from '../../../../operator/vault/client.js';
import { aKmsVaultSecret, aSecret } from './builders.js';

/** KV in memory: mounts "kv" (v1) and "secret" (v2). */
class FakeVault extends VaultClient {
  readonly v1 = new Map<string, Record<string, string>>();
  readonly v2 = new Map<string, { data: Record<string, string> | null; version: number }>();
  down = false;
  log: string[] = [];

  constructor() {
    super({ address: 'http://fake:8200', auth: { method: 'token', token: 't' } });
  }

  override async request<T>(method: HttpMethod, path: string, body?: unknown, options: RequestOptions = {}): Promise<VaultResponse<T>> {
    if (method === 'GET') this.stats.reads++;
    else this.stats.writes++;
    this.log.push(`${method} ${path}`);
    if (this.down) throw new VaultError('Vault at http://fake:8200 is unreachable (ECONNREFUSED)', undefined, [], true);
    const reply = (status: number, data: unknown): VaultResponse<T> => {
      if (status >= 400 && !(options.allowStatus ?? []).includes(status)) throw new VaultError(`Vault ${method} ${path} failed with ${status}`, status, [], false);
      return { status, data: data as T };
    };
    const ui = /^sys\/internal\/ui\/mounts\/(.*)$/.exec(path);
    if (ui) {
      const first = ui[1]!.split('/')[0];
      if (first === 'kv') return reply(200, { data: { path: 'kv/', type: 'kv', options: { version: '1' } } });
      if (first === 'secret') return reply(200, { data: { path: 'secret/', type: 'kv', options: { version: '2' } } });
      return reply(403, {});
    }
    if (path.startsWith('kv/')) {
      const p = path.slice(3);
      if (method === 'GET') return this.v1.has(p) ? reply(200, { data: this.v1.get(p) }) : reply(404, {});
      if (method === 'PUT') return this.v1.set(p, { ...(body as Record<string, string>) }), reply(204, {});
      if (method === 'DELETE') return this.v1.delete(p), reply(204, {});
    }
    const data = /^secret\/data\/(.*)$/.exec(path);
    if (data) {
      const p = data[1]!;
      const cur = this.v2.get(p);
      if (method === 'GET') return cur?.data ? reply(200, { data: { data: cur.data, metadata: { version: cur.version } } }) : reply(404, {});
      const b = body as { data: Record<string, string>; options?: { cas?: number } };
      if (b.options?.cas !== undefined && b.options.cas !== (cur?.version ?? 0)) return reply(400, {});
      this.v2.set(p, { data: { ...b.data }, version: (cur?.version ?? 0) + 1 });
      return reply(200, {});
    }
    const meta = /^secret\/metadata\/(.*)$/.exec(path);
    if (meta && method === 'DELETE') return this.v2.delete(meta[1]!), reply(204, {});
    return reply(404, {});
  }
}

/** "Ciphertext" is `enc:<context json>:<plaintext>` base64-encoded; the fake KMS checks the context. */
class FakeKms implements Decryptor {
  down = false;
  calls = 0;
  static seal(value: string, context?: Record<string, string>): string {
    return Buffer.from(`enc:${JSON.stringify(context ?? {})}:${value}`).toString('base64');
  }
  async decrypt(r: DecryptRequest) {
    this.calls++;
    if (this.down) throw new KmsError(KmsFailure.Unreachable, 'ECONNREFUSED', 'down');
    const text = Buffer.from(r.ciphertext).toString();
    const m = /^enc:(\{.*?\}):(.*)$/s.exec(text);
    if (!m) throw new KmsError(KmsFailure.InvalidCiphertext, 'InvalidCiphertextException', 'bad');
    if (m[1] !== JSON.stringify(r.context ?? {})) throw new KmsError(KmsFailure.InvalidCiphertext, 'InvalidCiphertextException', 'ctx');
    return { plaintext: new Uint8Array(Buffer.from(m[2]!)), keyId: 'arn:aws:kms:test:1:key/k' };
  }
}

interface Harness {
  /** ReportedFailures thrown to the framework (= retried with backoff). */
  thrown: ReportedFailure[];
  logger: ReturnType<typeof createLogger>;
  vault: FakeVault;
  kms: FakeKms;
  controller: KmsVaultSecretController;
  clock: FakeClock;
  events: Array<{ type: string; reason: string; message: string }>;
  statusWrites: number;
  logs: string[];
  /** Runs reconcile and keeps the object's status as the apiserver would. */
  reconcile(obj: KMSVaultSecret): Promise<KMSVaultSecret>;
  finalize(obj: KMSVaultSecret): Promise<void>;
}

/**
 * The sync tests below seal without the namespace binding; 'team-a' is a
 * legacy namespace for them. The binding has its own tests (bottom), with
 * legacyNamespaces empty as by default.
 */
function harness(partials: Record<string, unknown> = {}, legacyNamespaces = ['team-a']): Harness {
  const vault = new FakeVault();
  const kms = new FakeKms();
  const clock = new FakeClock(new Date('2026-11-28T07:00:00Z'));
  const logs: string[] = [];
  const logger = createLogger({
    stream: new Writable({
      write(chunk: Buffer, _enc, done) {
        logs.push(chunk.toString());
        done();
      },
    }),
  });
  const h: Harness = {
    thrown: [],
    logger,
    vault,
    kms,
    clock,
    events: [],
    statusWrites: 0,
    logs,
    controller: new KmsVaultSecretController({ vault, decryptor: kms, settings: { ...defaultKmsVaultSecretSettings, syncPeriodMs: 60_000, legacyNamespaces } }),
    reconcile: async (obj) => {
      let current = obj;
      const ctx = makeCtx(() => current, (s) => (current = { ...current, status: s }));
      try {
        await h.controller.reconcile(obj, ctx);
      } catch (err) {
        if (!(err instanceof ReportedFailure)) throw err;
        h.thrown.push(err);
      }
      return current;
    },
    finalize: async (obj) => {
      let current = obj;
      await h.controller.finalize(obj, makeCtx(() => current, (s) => (current = { ...current, status: s })));
    },
  };
  function makeCtx(get: () => KMSVaultSecret, set: (s: KMSVaultSecretStatus) => void): ReconcileContext<KMSVaultSecret> {
    return {
      log: logger,
      clock,
      current: get,
      kube: {
        raw: {
          request: async (req: { path: string }) => {
            const name = req.path.split('/').pop()!;
            if (partials[name]) return partials[name];
            throw Object.assign(new Error('not found'), { code: 404 });
          },
        },
      } as unknown as ReconcileContext<KMSVaultSecret>['kube'],
      event: async (type, reason, message) => void h.events.push({ type, reason, message }),
      patchStatus: async (status) => {
        if (isStatusUnchanged(get().status, status)) return;
        h.statusWrites++;
        set(applyMergePatch(get().status, status) as KMSVaultSecretStatus);
      },
      waitOutsideSlot: (work) => work,
    };
  }
  return h;
}

const sealedSpec = (values: Record<string, string>, context?: Record<string, string>) =>
  Object.entries(values).map(([key, v]) => aSecret(key, { encryptedSecret: FakeKms.seal(v, context) }));

test('first reconcile writes v2 with cas 0; a second one reads only', async (t) => {
  const h = harness();
  let obj = aKmsVaultSecret({ secrets: sealedSpec({ a: 'alpha', b: 'beta' }) });
  obj = await h.reconcile(obj);
  t.deepEqual(h.vault.v2.get('team-a/app'), { data: { a: 'alpha', b: 'beta' }, version: 1 });
  t.is(obj.status?.conditions?.[0]?.reason, 'Synced');
  t.deepEqual(h.events.map((e) => e.reason), ['SecretWritten']);
  const writes = h.vault.stats.writes;
  const statusWrites = h.statusWrites;
  await h.clock.advance(60_000);
  obj = await h.reconcile(obj);
  t.is(h.vault.stats.writes, writes, 'no Vault write when in sync');
  t.is(h.statusWrites, statusWrites, 'no status write when in sync');
  t.is(h.events.length, 1, 'no event when in sync');
});

test('an unchanged object costs no KMS call; drift or a new ciphertext decrypts only what is not provably in Vault', async (t) => {
  const h = harness();
  let obj = await h.reconcile(aKmsVaultSecret({ secrets: sealedSpec({ a: 'alpha', b: 'beta' }) }));
  t.is(h.kms.calls, 2, 'first sync decrypts each key once');
  await h.clock.advance(60_000);
  obj = await h.reconcile(obj);
  obj = await h.reconcile(obj);
  t.is(h.kms.calls, 2, 'in sync: Vault values match the remembered digests, no decrypt');
  h.vault.v2.set('team-a/app', { data: { a: 'tampered', b: 'beta' }, version: 2 });
  obj = await h.reconcile(obj);
  t.is(h.kms.calls, 3, 'drift: only the changed key is decrypted again');
  t.deepEqual(h.vault.v2.get('team-a/app')?.data, { a: 'alpha', b: 'beta' });
  obj = await h.reconcile({ ...obj, spec: { ...obj.spec, secrets: sealedSpec({ a: 'alpha', b: 'gamma' }) } });
  t.is(h.kms.calls, 4, 'a changed ciphertext is decrypted; the unchanged one is not');
  t.deepEqual(h.vault.v2.get('team-a/app')?.data, { a: 'alpha', b: 'gamma' });
});

test('whole or nothing: one undecryptable key means no write at all', async (t) => {
  const h = harness();
  const obj = aKmsVaultSecret({ secrets: [...sealedSpec({ good: 'x' }), aSecret('bad', { encryptedSecret: FakeKms.seal('y', { other: 'ctx' }) })] });
  const after = await h.reconcile(obj);
  t.is(h.vault.stats.writes, 0);
  t.is(after.status?.conditions?.[0]?.reason, 'DecryptionFailed');
  t.regex(after.status!.conditions![0]!.message, /key "bad"/);
  t.notRegex(after.status!.conditions![0]!.message, /"good"/);
});

test('bad input never reaches Vault or KMS: decoding and tenancy are checked first', async (t) => {
  const h = harness();
  await h.reconcile(aKmsVaultSecret({ secrets: [aSecret('k', { encryptedSecret: '!!' })] }));
  await h.reconcile(aKmsVaultSecret({ path: 'secret/team-b/app', secrets: sealedSpec({ k: 'v' }) }));
  t.is(h.thrown.length, 0, 'bad input is not retried with backoff; it waits for an edit (and the sync period)');
  t.is(h.vault.log.length, 0);
  t.is(h.kms.calls, 0);
  t.deepEqual(h.events.map((e) => e.reason), ['DecodingFailed', 'PathNotAllowed']);
});

test('drift is rewritten with cas of the version read; Vault down is VaultUnreachable and retried', async (t) => {
  const h = harness();
  let obj = await h.reconcile(aKmsVaultSecret({ secrets: sealedSpec({ a: 'alpha' }) }));
  h.vault.v2.set('team-a/app', { data: { a: 'tampered' }, version: 2 });
  obj = await h.reconcile(obj);
  t.deepEqual(h.vault.v2.get('team-a/app'), { data: { a: 'alpha' }, version: 3 });
  t.regex(h.events.at(-1)!.message, /restored/);
  h.vault.down = true;
  obj = await h.reconcile(obj);
  t.is(obj.status?.conditions?.[0]?.reason, 'VaultUnreachable');
  t.is(h.thrown.length, 1, 'thrown to the framework, which retries with backoff');
  t.deepEqual(h.vault.v2.get('team-a/app')?.data, { a: 'alpha' }, 'what was in Vault stays');
  h.vault.down = false;
  obj = await h.reconcile(obj);
  t.is(obj.status?.conditions?.[0]?.reason, 'Synced');
  t.is(h.events.at(-1)!.reason, 'Recovered');
});

test('a moved path with deletionPolicy Delete removes the old secret', async (t) => {
  const h = harness();
  let obj = await h.reconcile(aKmsVaultSecret({ path: 'kv/team-a/old', kvSettings: { engineVersion: 'v1' }, secrets: sealedSpec({ a: '1' }) }));
  t.true(h.vault.v1.has('team-a/old'));
  obj = await h.reconcile({ ...obj, metadata: { ...obj.metadata, generation: 2 }, spec: { ...obj.spec, path: 'kv/team-a/new' } });
  t.false(h.vault.v1.has('team-a/old'));
  t.deepEqual(h.vault.v1.get('team-a/new'), { a: '1' });
  t.is(obj.status?.vaultPath, 'kv/team-a/new');
});

test('finalize: Delete removes what status recorded, Retain keeps it, never-synced deletes nothing', async (t) => {
  const h = harness();
  const synced = await h.reconcile(aKmsVaultSecret({ secrets: sealedSpec({ a: '1' }) }));
  await h.finalize({ ...synced, spec: { ...synced.spec, deletionPolicy: 'Retain' } });
  t.true(h.vault.v2.has('team-a/app'));
  await h.finalize(synced);
  t.false(h.vault.v2.has('team-a/app'));
  h.vault.v2.set('team-a/app', { data: { other: 'owner' }, version: 1 });
  await h.finalize(aKmsVaultSecret());
  t.true(h.vault.v2.has('team-a/app'));
});

test('plaintext is redacted from any log line about its object, and only there', async (t) => {
  const h = harness();
  const plaintext = 'super-secret-value-123';
  // its own name: scopes are per object, and the other tests here reconcile team-a/app side by side
  const obj = await h.reconcile(aKmsVaultSecret({ secrets: sealedSpec({ a: plaintext, short: 'vault' }) }, { name: 'leaky' }));
  // even a careless log line about the object after decryption cannot print it
  const about = h.logger.child({ controller: 'KMSVaultSecret', namespace: 'team-a', name: 'leaky' });
  about.info(`oops ${plaintext}`, { value: plaintext });
  // a tenant's value is not a pattern for other objects' lines, and a short one is no pattern at all
  h.logger.child({ controller: 'KMSVaultSecret', namespace: 'team-b', name: 'leaky' }).info(`someone else's super-secret-value-123 and vault`);
  about.info('the vault is fine');
  await new Promise((r) => setImmediate(r));
  const lines = h.logs.join('').trim().split('\n').map((l) => JSON.parse(l) as { message: string; value?: string; name?: string; namespace?: string });
  const mine = lines.filter((l) => l.namespace === 'team-a' && l.message.startsWith('oops'));
  t.deepEqual(mine.map((l) => [l.message, l.value]), [['oops [REDACTED]', '[REDACTED]']]);
  t.true(lines.some((l) => l.message === `someone else's super-secret-value-123 and vault`), 'scoped to the object');
  t.true(lines.some((l) => l.message === 'the vault is fine'), 'values shorter than 8 characters are not redacted');
  t.false(JSON.stringify(obj.status).includes(plaintext));
  t.false(JSON.stringify(h.events).includes(plaintext));
});

test('ciphertext bound to another namespace, or to none, is refused before any KMS call', async (t) => {
  const h = harness({}, []);
  const foreign = await h.reconcile(aKmsVaultSecret({ secrets: sealedSpec({ a: 'alpha' }, { [NAMESPACE_CONTEXT_KEY]: 'team-b' }), secretContext: { [NAMESPACE_CONTEXT_KEY]: 'team-b' } }));
  const ready = foreign.status?.conditions?.[0];
  t.is(ready?.reason, 'NamespaceMismatch');
  t.regex(ready?.message ?? '', /"a" \(spec\.secrets\) was sealed for namespace "team-b", not "team-a".*seal --namespace team-a/);
  const unbound = await h.reconcile(aKmsVaultSecret({ secrets: sealedSpec({ b: 'beta' }) }));
  t.regex(unbound.status?.conditions?.[0]?.message ?? '', /"b" \(spec\.secrets\) has no vault\.autopilot\.dev\/namespace in the encryption context/);
  t.is(h.kms.calls, 0, 'no decrypt for a refused key');
  t.is(h.vault.stats.writes, 0);
  t.deepEqual(h.events.map((e) => e.reason), ['NamespaceMismatch', 'NamespaceMismatch']);
});

test('ciphertext bound to the object\'s namespace syncs; a legacy namespace also takes unbound keys', async (t) => {
  const bound = { [NAMESPACE_CONTEXT_KEY]: 'team-a', app: 'web' };
  const h = harness({}, []);
  const obj = await h.reconcile(aKmsVaultSecret({ secrets: sealedSpec({ a: 'alpha' }, bound), secretContext: bound }));
  t.is(obj.status?.conditions?.[0]?.reason, 'Synced');
  t.deepEqual(h.vault.v2.get('team-a/app')?.data, { a: 'alpha' });
  const legacy = harness({}, ['other', 'team-a']);
  t.is((await legacy.reconcile(aKmsVaultSecret({ secrets: sealedSpec({ a: 'alpha' }) }))).status?.conditions?.[0]?.reason, 'Synced');
  const wildcard = harness({}, ['*']);
  t.is((await wildcard.reconcile(aKmsVaultSecret({ secrets: sealedSpec({ a: 'alpha' }) }))).status?.conditions?.[0]?.reason, 'Synced');
  const legacyForeign = harness({}, ['*']);
  const refused = await legacyForeign.reconcile(aKmsVaultSecret({ secrets: sealedSpec({ a: 'alpha' }, { [NAMESPACE_CONTEXT_KEY]: 'team-b' }), secretContext: { [NAMESPACE_CONTEXT_KEY]: 'team-b' } }));
  t.is(refused.status?.conditions?.[0]?.reason, 'NamespaceMismatch', 'legacy accepts a missing binding, never a foreign one');
});
