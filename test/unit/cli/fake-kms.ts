// An in-memory KMS for CLI unit tests: ciphertext is a random handle, so it
// carries nothing of the plaintext.
import { randomBytes } from 'node:crypto';
import type { AwsKmsOptions } from '../../../operator/kms/aws-kms.js';
import { KmsError, KmsFailure, type DecryptRequest, type EncryptRequest } from '../../../operator/kms/decryptor.js';
import type { CliIO, CliKms } from '../../../operator/cli/io.js';

interface Stored {
  plaintext: Uint8Array;
  keyId: string;
  context: string;
}

const canonical = (ctx: Record<string, string> | undefined) => JSON.stringify(Object.entries(ctx ?? {}).sort());

export class FakeKms implements CliKms {
  readonly store = new Map<string, Stored>();
  readonly options: AwsKmsOptions[] = [];
  down = false;

  forOptions(options: AwsKmsOptions): CliKms {
    this.options.push(options);
    const allowed = options.allowedKeyIds ?? [];
    return {
      encrypt: (r) => this.encrypt(r),
      decrypt: async (r) => {
        const out = await this.decrypt(r);
        if (allowed.length > 0 && !allowed.includes(out.keyId)) throw new KmsError(KmsFailure.WrongKey, 'KeyNotAllowed', 'not allowed');
        return out;
      },
    };
  }

  async encrypt(r: EncryptRequest) {
    if (this.down) throw new KmsError(KmsFailure.Unreachable, 'ECONNREFUSED', 'down');
    if (r.keyId === 'alias/missing') throw new KmsError(KmsFailure.KeyNotFound, 'NotFoundException', 'nf');
    const handle = randomBytes(24);
    this.store.set(handle.toString('hex'), { plaintext: new Uint8Array(r.plaintext), keyId: r.keyId, context: canonical(r.context) });
    return { ciphertext: handle, keyId: r.keyId };
  }

  async decrypt(r: DecryptRequest) {
    if (this.down) throw new KmsError(KmsFailure.Unreachable, 'ECONNREFUSED', 'down');
    const s = this.store.get(Buffer.from(r.ciphertext).toString('hex'));
    if (!s || s.context !== canonical(r.context)) throw new KmsError(KmsFailure.InvalidCiphertext, 'InvalidCiphertextException', 'bad');
    return { plaintext: new Uint8Array(s.plaintext), keyId: s.keyId };
  }
}

export interface CapturedIO extends CliIO {
  out: string[];
  err: string[];
  stdoutText(): string;
}

export function captureIO(kms: FakeKms, files: Record<string, string> = {}, stdin = '', env: Record<string, string> = { AWS_REGION: 'us-east-1' }): CapturedIO {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    stdoutText: () => out.join(''),
    stdout: (t) => void out.push(t),
    stderr: (t) => void err.push(t),
    env,
    readFile: (p) => {
      const f = files[p];
      if (f === undefined) throw Object.assign(new Error('no'), { code: 'ENOENT' });
      return f;
    },
    readStdin: async () => stdin,
    kms: (o) => kms.forOptions(o),
  };
}
