import test from 'ava';
import yaml from 'js-yaml';
import { runCli } from '../../../operator/cli/index.js';
import { nameFromPath } from '../../../operator/cli/seal.js';
import { NAMESPACE_CONTEXT_KEY, type KMSVaultSecret, type PartialKMSVaultSecret } from '../../../operator/api/kmsvaultsecret.js';
import { captureIO, FakeKms } from './fake-kms.js';

const VALUES = ['s3cret-Password!', 'api-token-0123456789'];

function manifestOf(text: string): KMSVaultSecret {
  return yaml.load(text) as KMSVaultSecret;
}

test('seal prints a KMSVaultSecret without the values; verify accepts it', async (t) => {
  const kms = new FakeKms();
  const io = captureIO(kms);
  const code = await runCli(
    ['seal', '--key-id', 'alias/app', '--path', 'secret/team-a/app', '--namespace', 'team-a', '--context', 'team=a', `DB_PASSWORD=${VALUES[0]}`, `API_TOKEN=${VALUES[1]}`],
    io,
  );
  t.is(code, 0, io.err.join(''));
  const text = io.stdoutText();
  for (const v of VALUES) t.false(text.includes(v), 'value echoed');
  const m = manifestOf(text);
  t.is(m.apiVersion, 'vault.autopilot.dev/v1alpha1');
  t.is(m.kind, 'KMSVaultSecret');
  t.deepEqual(m.metadata, { name: 'app', namespace: 'team-a' });
  t.is(m.spec.path, 'secret/team-a/app');
  t.deepEqual(m.spec.kvSettings, { engineVersion: 'v2' });
  t.deepEqual(m.spec.secretContext, { team: 'a', [NAMESPACE_CONTEXT_KEY]: 'team-a' }, 'the namespace is bound into the context');
  t.deepEqual(m.spec.secrets!.map((s) => s.key), ['DB_PASSWORD', 'API_TOKEN']);
  // the ciphertext really decrypts to the value, with the context
  const blob = Buffer.from(m.spec.secrets![0]!.encryptedSecret!, 'base64');
  const out = await kms.decrypt({ ciphertext: blob, context: { team: 'a', [NAMESPACE_CONTEXT_KEY]: 'team-a' } });
  t.is(Buffer.from(out.plaintext).toString(), VALUES[0]);
  await t.throwsAsync(kms.decrypt({ ciphertext: blob, context: { team: 'a', [NAMESPACE_CONTEXT_KEY]: 'team-b' } }), undefined, 'not under another namespace');

  const vio = captureIO(kms, { '/m.yaml': text });
  t.is(await runCli(['verify', '/m.yaml'], vio), 0, vio.stdoutText());
  t.regex(vio.stdoutText(), /OK {3}KMSVaultSecret\/team-a\/app DB_PASSWORD/);
  t.regex(vio.stdoutText(), /2 ok, 0 failed/);
  for (const v of VALUES) t.false(vio.stdoutText().includes(v));
});

test('seal --from-env-file and stdin, v1, partial', async (t) => {
  const kms = new FakeKms();
  const io = captureIO(kms, { '/app.env': 'A=1\nB="two"\n' });
  t.is(await runCli(['seal', '--key-id', 'k', '--path', 'kv/ns/x', '--namespace', 'ns', '--engine', 'v1', '--from-env-file', '/app.env'], io), 0);
  const m = manifestOf(io.stdoutText());
  t.is(m.spec.kvSettings.engineVersion, 'v1');
  t.deepEqual(m.spec.secrets!.map((s) => s.key), ['A', 'B']);
  t.is(m.metadata!.namespace, 'ns');

  const pio = captureIO(kms, {}, 'SHARED=x\n');
  t.is(await runCli(['seal', '--key-id', 'k', '--partial', '--name', 'shared', '--namespace', 'ns', '--from-env-file', '-'], pio), 0);
  const p = yaml.load(pio.stdoutText()) as PartialKMSVaultSecret;
  t.is(p.kind, 'PartialKMSVaultSecret');
  t.deepEqual(p.spec.secrets!.map((s) => s.key), ['SHARED']);
  t.false('path' in p.spec);
  t.deepEqual(p.spec.secretContext, { [NAMESPACE_CONTEXT_KEY]: 'ns' });
});

test('verify reports each failing key with its cause and exits 1', async (t) => {
  const kms = new FakeKms();
  const io = captureIO(kms);
  await runCli(['seal', '--key-id', 'alias/app', '--path', 'secret/ns/app', '--namespace', 'ns', '--context', 'team=a', 'GOOD=1', 'CTX=2'], io);
  const m = manifestOf(io.stdoutText());
  m.spec.secrets![1]!.secretContext = { team: 'b', [NAMESPACE_CONTEXT_KEY]: 'ns' };
  m.spec.secrets!.push({ key: 'NOTB64', encryptedSecret: '***' }, { key: 'EMPTY', emptySecret: true });
  m.spec.includeSecrets = ['elsewhere'];
  const vio = captureIO(kms, { '/m.yaml': yaml.dump(m) });
  t.is(await runCli(['verify', '/m.yaml'], vio), 1);
  const out = vio.stdoutText();
  t.regex(out, /OK {3}KMSVaultSecret\/ns\/app GOOD/);
  t.regex(out, /FAIL KMSVaultSecret\/ns\/app CTX: InvalidCiphertextException: .*encryption context/);
  t.regex(out, /FAIL KMSVaultSecret\/ns\/app NOTB64: .*base64/);
  t.regex(out, /OK {3}KMSVaultSecret\/ns\/app EMPTY: emptySecret/);
  t.regex(out, /NOTE .*"elsewhere".*not checked/);
  t.regex(out, /2 ok, 2 failed/);
});

test('verify --key-id fails keys of another key; partials use the parent context', async (t) => {
  const kms = new FakeKms();
  const a = captureIO(kms);
  await runCli(['seal', '--key-id', 'alias/app', '--path', 'secret/ns/app', '--namespace', 'ns', '--context', 'team=a', 'MINE=1'], a);
  const b = captureIO(kms);
  await runCli(['seal', '--key-id', 'alias/other', '--partial', '--name', 'p', '--namespace', 'ns', '--context', 'team=a', 'THEIRS=1'], b);
  const parent = manifestOf(a.stdoutText());
  parent.spec.includeSecrets = ['p'];
  const partial = yaml.load(b.stdoutText()) as PartialKMSVaultSecret;
  delete partial.spec.secretContext; // falls back to the parent's team=a + namespace
  const file = `${yaml.dump(parent)}---\n${yaml.dump(partial)}`;
  const vio = captureIO(kms, { '/f.yaml': file });
  t.is(await runCli(['verify', '--key-id', 'alias/app', '/f.yaml'], vio), 1);
  t.regex(vio.stdoutText(), /OK {3}KMSVaultSecret\/ns\/app MINE/);
  t.regex(vio.stdoutText(), /FAIL KMSVaultSecret\/ns\/app THEIRS: .*does not accept/);
  const all = captureIO(kms, { '/f.yaml': file });
  t.is(await runCli(['verify', '/f.yaml'], all), 0, all.stdoutText());
});

test('usage errors exit 2 with a hint, and never echo a value', async (t) => {
  const kms = new FakeKms();
  const cases: Array<[string[], RegExp]> = [
    [['seal', '--path', 'secret/a/b', 'A=1'], /--key-id is required/],
    [['seal', '--key-id', 'k', '--path', 'secret/a/b', 'A=1'], /--namespace is required: the ciphertext is bound to it/],
    [['seal', '--key-id', 'k', '--path', 'secret/a/b', '--namespace', 'a', '--context', 'vault.autopilot.dev/namespace=b', 'A=1'], /is set from --namespace/],
    [['seal', '--key-id', 'k', 'A=1'], /--path is required/],
    [['seal', '--key-id', 'k', '--path', 'secret/a/b', '--namespace', 'a'], /no values to seal/],
    [['seal', '--key-id', 'k', '--path', 'secret/a/b', '--namespace', 'a', '--engine', 'v3', 'A=1'], /--engine must be v1 or v2/],
    [['seal', '--key-id', 'k', '--path', 'secret/a/b', '--namespace', 'a', 'A=1', 'A=2'], /more than once/],
    [['seal', '--key-id', 'k', '--path', 'secret/a/b', '--namespace', 'a', '--bogus', 'A=1'], /bogus/],
    [['seal', '--key-id', 'k', '--path', 'secret/a/b', '--namespace', 'a', 'hunter2'], /argument 1 .* not KEY=VALUE/],
    [['verify'], /at least one YAML file/],
    [['verify', '/nope.yaml'], /cannot read \/nope\.yaml \(ENOENT\)/],
    [['frobnicate'], /unknown command "frobnicate"/],
  ];
  for (const [argv, expected] of cases) {
    const io = captureIO(kms);
    t.is(await runCli(argv, io), 2, argv.join(' '));
    const err = io.err.join('');
    t.regex(err, expected, argv.join(' '));
    t.regex(err, /--help/);
    t.false(err.includes('hunter2'));
  }
  t.is(kms.store.size, 0, 'nothing was encrypted');
});

test('a region is required; flags beat the environment', async (t) => {
  const kms = new FakeKms();
  const noRegion = captureIO(kms, {}, '', {});
  t.is(await runCli(['seal', '--key-id', 'k', '--path', 'secret/a/b', '--namespace', 'a', 'A=1'], noRegion), 2);
  t.regex(noRegion.err.join(''), /region/);
  const io = captureIO(kms, {}, '', { VAULT_AUTOPILOT_KMS_REGION: 'eu-west-1', VAULT_AUTOPILOT_KMS_ENDPOINT: 'http://env:1' });
  await runCli(['seal', '--key-id', 'k', '--path', 'secret/a/b', '--namespace', 'a', '--endpoint', 'http://flag:2', 'A=1'], io);
  t.deepEqual(kms.options.at(-1), { region: 'eu-west-1', endpoint: 'http://flag:2' });
  const flagged = captureIO(kms, {}, '', { VAULT_AUTOPILOT_KMS_REGION: 'eu-west-1' });
  t.is(await runCli(['seal', '--key-id', 'k', '--path', 'secret/a/b', '--namespace', 'a', '--region', 'ap-south-1', 'A=1'], flagged), 0, flagged.err.join(''));
  t.is(kms.options.at(-1)?.region, 'ap-south-1', '--region beats VAULT_AUTOPILOT_KMS_REGION');
});

test('seal --deletion-policy: Retain is written into the manifest, anything else is a usage error', async (t) => {
  const kms = new FakeKms();
  const io = captureIO(kms);
  t.is(await runCli(['seal', '--key-id', 'k', '--path', 'secret/a/b', '--namespace', 'a', '--deletion-policy', 'Retain', 'A=1'], io), 0, io.err.join(''));
  t.is(manifestOf(io.stdoutText()).spec.deletionPolicy, 'Retain');
  const plain = captureIO(kms);
  t.is(await runCli(['seal', '--key-id', 'k', '--path', 'secret/a/b', '--namespace', 'a', 'A=1'], plain), 0, plain.err.join(''));
  t.false('deletionPolicy' in manifestOf(plain.stdoutText()).spec, 'the default (Delete) is left to the CRD');
  const bad = captureIO(kms);
  t.is(await runCli(['seal', '--key-id', 'k', '--path', 'secret/a/b', '--namespace', 'a', '--deletion-policy', 'Keep', 'A=1'], bad), 2);
  t.regex(bad.err.join(''), /deletion-policy/);
});

test('KMS failures exit 1 with the cause', async (t) => {
  const kms = new FakeKms();
  const io = captureIO(kms);
  t.is(await runCli(['seal', '--key-id', 'alias/missing', '--path', 'secret/a/b', '--namespace', 'a', 'A=topsecret'], io), 1);
  t.regex(io.err.join(''), /encrypting A with alias\/missing failed \(NotFoundException/);
  t.false(io.err.join('').includes('topsecret'));
  t.is(io.stdoutText(), '');
});

test('--help for each command', async (t) => {
  for (const cmd of [['--help'], ['seal', '--help'], ['verify', '-h']]) {
    const io = captureIO(new FakeKms());
    t.is(await runCli(cmd, io), 0);
    t.regex(io.stdoutText(), /Usage/);
  }
});

test('nameFromPath makes a Kubernetes name', (t) => {
  t.is(nameFromPath('secret/team-a/My_App/'), 'my-app');
});

test('verify reads kms-vault-operator manifests (k8s.patoarvizu.dev) too', async (t) => {
  const kms = new FakeKms();
  const io = captureIO(kms);
  await runCli(['seal', '--key-id', 'k', '--path', 'secret/ns/old', '--namespace', 'ns', 'OLD=1'], io);
  const m = manifestOf(io.stdoutText());
  m.apiVersion = 'k8s.patoarvizu.dev/v1alpha1';
  const vio = captureIO(kms, { '/old.yaml': yaml.dump(m) });
  t.is(await runCli(['verify', '/old.yaml'], vio), 0);
  t.regex(vio.stdoutText(), /OK {3}KMSVaultSecret\/ns\/old OLD/);
});

test('verify applies the namespace binding: unbound (legacy) and foreign keys FAIL with the cause', async (t) => {
  const kms = new FakeKms();
  const seal = async (context?: Record<string, string>) =>
    Buffer.from((await kms.encrypt({ keyId: 'k', plaintext: Buffer.from('v'), context })).ciphertext).toString('base64');
  // as kms-vault-operator's users sealed: no namespace in the context, no metadata.namespace
  const legacy: KMSVaultSecret = {
    apiVersion: 'k8s.patoarvizu.dev/v1alpha1',
    kind: 'KMSVaultSecret',
    metadata: { name: 'old' },
    spec: { path: 'secret/ns/old', kvSettings: { engineVersion: 'v2' }, secrets: [{ key: 'OLD', encryptedSecret: await seal() }] },
  };
  const file = { '/old.yaml': yaml.dump(legacy) };
  const nowhere = captureIO(kms, file);
  t.is(await runCli(['verify', '/old.yaml'], nowhere), 1);
  t.regex(nowhere.stdoutText(), /FAIL KMSVaultSecret\/old OLD: no namespace to check the binding against: set metadata\.namespace or pass --namespace/);
  const inNs = captureIO(kms, file);
  t.is(await runCli(['verify', '--namespace', 'ns', '/old.yaml'], inNs), 1);
  t.regex(inNs.stdoutText(), /FAIL KMSVaultSecret\/old OLD: sealed without vault\.autopilot\.dev\/namespace .*VAULT_AUTOPILOT_KMS_LEGACY_NAMESPACES; seal again with --namespace ns/);
  const foreignContext = { [NAMESPACE_CONTEXT_KEY]: 'team-b' };
  const copied: KMSVaultSecret = {
    ...legacy,
    metadata: { name: 'copied', namespace: 'team-a' },
    spec: { ...legacy.spec, secretContext: foreignContext, secrets: [{ key: 'THEIRS', encryptedSecret: await seal(foreignContext) }] },
  };
  const cio = captureIO(kms, { '/c.yaml': yaml.dump(copied) });
  t.is(await runCli(['verify', '/c.yaml'], cio), 1);
  t.regex(cio.stdoutText(), /FAIL KMSVaultSecret\/team-a\/copied THEIRS: sealed for namespace "team-b", not "team-a"/);
});
