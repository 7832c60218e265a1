import test from 'ava';
import nock from 'nock';
import { AwsKms, classifyAwsKmsError } from '../../../operator/kms/aws-kms.js';
import { explainKmsFailure, KmsError, KmsFailure } from '../../../operator/kms/decryptor.js';

const ENDPOINT = 'http://kms.test:4599';
const ARN = 'arn:aws:kms:eu-west-1:111122223333:key/11111111-1111-1111-1111-111111111111';
const OTHER_ARN = 'arn:aws:kms:eu-west-1:111122223333:key/22222222-2222-2222-2222-222222222222';
const kms = (allowedKeyIds: string[] = []) =>
  new AwsKms({ endpoint: ENDPOINT, region: 'eu-west-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' }, allowedKeyIds, maxAttempts: 1 });

test.before(() => nock.disableNetConnect());
test.afterEach.always(() => nock.cleanAll());
test.after.always(() => nock.enableNetConnect());

test.serial('classifyAwsKmsError maps service exceptions to causes', (t) => {
  const cases: Array<[string, number | undefined, KmsFailure]> = [
    ['AccessDeniedException', 400, KmsFailure.AccessDenied],
    ['InvalidCiphertextException', 400, KmsFailure.InvalidCiphertext],
    ['IncorrectKeyException', 400, KmsFailure.WrongKey],
    ['NotFoundException', 400, KmsFailure.KeyNotFound],
    ['DisabledException', 400, KmsFailure.KeyUnusable],
    ['ThrottlingException', 400, KmsFailure.Unreachable],
    ['KMSInternalException', 500, KmsFailure.Unreachable],
    ['Error', undefined, KmsFailure.Unreachable],
    ['SomethingNew', 400, KmsFailure.Other],
  ];
  for (const [name, status, failure] of cases) {
    const err = classifyAwsKmsError({ name, $metadata: status ? { httpStatusCode: status } : {} });
    t.is(err.failure, failure, name);
  }
  t.true(classifyAwsKmsError({ name: 'Error', code: 'ECONNREFUSED' }).transient);
  t.is(classifyAwsKmsError({ name: 'Error', code: 'ECONNREFUSED' }).code, 'ECONNREFUSED');
});

test.serial('classifyAwsKmsError: no credentials or no region is a set-up problem, not an outage', (t) => {
  t.is(classifyAwsKmsError({ name: 'CredentialsProviderError', message: 'Could not load credentials from any providers' }).failure, KmsFailure.NotConfigured);
  t.is(classifyAwsKmsError({ name: 'Error', message: 'Region is missing' }).failure, KmsFailure.NotConfigured);
  t.false(classifyAwsKmsError({ name: 'CredentialsProviderError' }).transient);
  t.regex(explainKmsFailure(KmsFailure.NotConfigured, false), /AWS_ACCESS_KEY_ID.*VAULT_AUTOPILOT_KMS_ENDPOINT/);
});

test.serial('explainKmsFailure: context mismatch vs missing context', (t) => {
  t.regex(explainKmsFailure(KmsFailure.InvalidCiphertext, true), /does not match/);
  t.regex(explainKmsFailure(KmsFailure.InvalidCiphertext, false), /set secretContext/);
});

test.serial('decrypt sends ciphertext and context, returns plaintext and key', async (t) => {
  let sent: Record<string, unknown> = {};
  nock(ENDPOINT)
    .post('/', (body) => ((sent = body), true))
    .matchHeader('x-amz-target', 'TrentService.Decrypt')
    .reply(200, { KeyId: ARN, Plaintext: Buffer.from('hunter2').toString('base64') });
  const out = await kms().decrypt({ ciphertext: Buffer.from('blob'), context: { app: 'x' } });
  t.is(Buffer.from(out.plaintext).toString(), 'hunter2');
  t.is(out.keyId, ARN);
  t.is(sent.CiphertextBlob, Buffer.from('blob').toString('base64'));
  t.deepEqual(sent.EncryptionContext, { app: 'x' });
});

test.serial('decrypt refuses ciphertext of a key outside the allowed list (aliases resolved)', async (t) => {
  nock(ENDPOINT)
    .post('/')
    .matchHeader('x-amz-target', 'TrentService.Decrypt')
    .reply(200, { KeyId: OTHER_ARN, Plaintext: Buffer.from('hunter2').toString('base64') })
    .post('/')
    .matchHeader('x-amz-target', 'TrentService.DescribeKey')
    .reply(200, { KeyMetadata: { Arn: ARN, KeyId: '1111' } })
    .post('/')
    .matchHeader('x-amz-target', 'TrentService.Decrypt')
    .reply(200, { KeyId: ARN, Plaintext: Buffer.from('ok').toString('base64') });
  const k = kms(['alias/app']);
  const err = await t.throwsAsync(k.decrypt({ ciphertext: Buffer.from('blob') }));
  t.true(err instanceof KmsError);
  t.is((err as KmsError).failure, KmsFailure.WrongKey);
  t.notRegex(err!.message, /hunter2/);
  const ok = await k.decrypt({ ciphertext: Buffer.from('blob') });
  t.is(Buffer.from(ok.plaintext).toString(), 'ok');
  t.true(nock.isDone(), 'the alias is resolved once');
});

test.serial('decrypt turns service errors into KmsError', async (t) => {
  nock(ENDPOINT)
    .post('/')
    .reply(400, { __type: 'InvalidCiphertextException', message: '' }, { 'x-amzn-errortype': 'InvalidCiphertextException' });
  const err = await t.throwsAsync(kms().decrypt({ ciphertext: Buffer.from('blob') }));
  t.is((err as KmsError).failure, KmsFailure.InvalidCiphertext);
});

test.serial('encrypt returns the blob and the key', async (t) => {
  let sent: Record<string, unknown> = {};
  nock(ENDPOINT)
    .post('/', (body) => ((sent = body), true))
    .matchHeader('x-amz-target', 'TrentService.Encrypt')
    .reply(200, { KeyId: ARN, CiphertextBlob: Buffer.from('cipher').toString('base64') });
  const out = await kms().encrypt({ keyId: 'alias/app', plaintext: Buffer.from('v'), context: {} });
  t.is(Buffer.from(out.ciphertext).toString(), 'cipher');
  t.is(sent.KeyId, 'alias/app');
  t.false('EncryptionContext' in sent, 'an empty context is not sent');
});
