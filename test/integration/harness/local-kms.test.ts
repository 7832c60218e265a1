// local-kms of the harness encrypts and decrypts with the seeded keys,
// addressed by alias, through the AWS SDK the product uses.
import test from 'ava';
import { DecryptCommand, DescribeKeyCommand, EncryptCommand, KMSClient } from '@aws-sdk/client-kms';
import { useTestEnv } from '../../harness/index.js';

const env = useTestEnv(test, { vault: false, apiserver: false }); // options apply when run alone (private servers)

function kms(): KMSClient {
  const { endpoint, region } = env().kms;
  return new KMSClient({ endpoint, region, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
}

test('encrypts with the alias and decrypts back', async (t) => {
  const client = kms();
  const plaintext = Buffer.from(`s3cret-${Date.now()}`);
  const encrypted = await client.send(new EncryptCommand({ KeyId: env().kms.keyAlias, Plaintext: plaintext }));
  t.truthy(encrypted.CiphertextBlob);
  t.false(Buffer.from(encrypted.CiphertextBlob!).includes(plaintext));
  const decrypted = await client.send(new DecryptCommand({ CiphertextBlob: encrypted.CiphertextBlob }));
  t.is(Buffer.from(decrypted.Plaintext!).toString(), plaintext.toString());
  t.true(decrypted.KeyId!.endsWith(env().kms.keyId));
});

test('the two seeded keys are distinct and both resolvable by alias', async (t) => {
  const client = kms();
  const first = await client.send(new DescribeKeyCommand({ KeyId: env().kms.keyAlias }));
  const other = await client.send(new DescribeKeyCommand({ KeyId: env().kms.otherKeyAlias }));
  t.is(first.KeyMetadata?.KeyId, env().kms.keyId);
  t.is(other.KeyMetadata?.KeyId, env().kms.otherKeyId);
  t.not(env().kms.keyId, env().kms.otherKeyId);
});

test('decrypting with the wrong key id fails', async (t) => {
  const client = kms();
  const encrypted = await client.send(new EncryptCommand({ KeyId: env().kms.keyAlias, Plaintext: Buffer.from('x') }));
  await t.throwsAsync(client.send(new DecryptCommand({ CiphertextBlob: encrypted.CiphertextBlob, KeyId: env().kms.otherKeyId })));
});
