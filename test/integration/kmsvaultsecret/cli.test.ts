// The user CLI as a real process against local-kms: `seal` output applied
// as-is syncs; `verify` says OK for it and FAIL (exit 1) for a tampered copy;
// the samples in samples/ apply and sync once their values are sealed for this KMS.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import test from 'ava';
import yaml from 'js-yaml';
import { useTestEnv } from '../../harness/index.js';
import { NAMESPACE_CONTEXT_KEY, type KMSVaultSecret, type PartialKMSVaultSecret } from '../../../operator/api/kmsvaultsecret.js';
import { CRD_FILES, KMS_CREDENTIALS, Objects, sealValue, startInProcessOperator, VaultProbe, type RunningOperator } from './helpers.js';

const env = useTestEnv(test);
const REPO = resolve(import.meta.dirname, '../../..');
const CLI = join(REPO, 'operator/cli/main.ts');

let op: RunningOperator;
let objects: Objects;
let probe: VaultProbe;
let ns: string;
let mount: string;
let dir: string;
const plaintexts: string[] = [];

test.before(async () => {
  const e = env();
  await e.applyCrds(...CRD_FILES);
  ns = await e.namespace('kmsvs-cli');
  mount = await e.vaultMount('kv-v2');
  objects = new Objects(e.kubeConfig());
  probe = new VaultProbe(e);
  op = await startInProcessOperator(e, { syncPeriodMs: 60_000 });
  dir = mkdtempSync(join(tmpdir(), 'kmsvs-cli-'));
});

test.after.always(async () => {
  await op?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[], input?: string): Promise<Run> {
  const e = env();
  return new Promise((resolvePromise) => {
    const child = execFile(
      process.execPath,
      ['--import=tsx', CLI, ...args],
      {
        cwd: REPO,
        env: {
          PATH: process.env.PATH,
          AWS_ACCESS_KEY_ID: KMS_CREDENTIALS.accessKeyId,
          AWS_SECRET_ACCESS_KEY: KMS_CREDENTIALS.secretAccessKey,
          AWS_REGION: e.kms.region,
          VAULT_AUTOPILOT_KMS_ENDPOINT: e.kms.endpoint,
        },
        timeout: 60_000,
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 99) : 0;
        resolvePromise({ code, stdout, stderr });
      },
    );
    if (input !== undefined) child.stdin?.end(input);
    else child.stdin?.end();
  });
}

test.serial('seal output applied as-is syncs; values never printed', async (t) => {
  const password = `cli-pw-${Math.random().toString(36).slice(2)}`;
  const token = `cli-token-${Math.random().toString(36).slice(2)}`;
  plaintexts.push(password, token);
  const run = await cli(
    ['seal', '--key-id', env().kms.keyAlias, '--path', `${mount}/${ns}/cli`, '--namespace', ns, '--name', 'from-cli', '--context', 'app=cli', '--from-env-file', '-'],
    `DB_PASSWORD=${password}\nAPI_TOKEN="${token}"\n`,
  );
  t.is(run.code, 0, run.stderr);
  for (const v of [password, token]) {
    t.false(run.stdout.includes(v));
    t.false(run.stderr.includes(v));
  }
  const file = join(dir, 'sealed.yaml');
  writeFileSync(file, run.stdout);
  const manifest = yaml.load(run.stdout) as KMSVaultSecret;
  await objects.createRaw(ns, manifest);
  await objects.waitReady(ns, 'from-cli', 'True', 'Synced');
  t.deepEqual(await probe.read(mount, 'v2', `${ns}/cli`), { DB_PASSWORD: password, API_TOKEN: token });

  const verify = await cli(['verify', '--key-id', env().kms.keyAlias, file]);
  t.is(verify.code, 0, verify.stdout + verify.stderr);
  t.regex(verify.stdout, /OK {3}KMSVaultSecret\/.*\/from-cli DB_PASSWORD: key arn:aws:kms:/);
  t.regex(verify.stdout, /2 ok, 0 failed/);
  for (const v of [password, token]) t.false(verify.stdout.includes(v));
});

test.serial('verify fails (exit 1) on a wrong context, another key and bad base64, naming each cause', async (t) => {
  const manifest = yaml.load(readFileSync(join(dir, 'sealed.yaml'), 'utf8')) as KMSVaultSecret;
  manifest.spec.secretContext = { app: 'other', [NAMESPACE_CONTEXT_KEY]: ns }; // bound right, but not the context it was sealed with
  const otherValue = `cli-other-${Math.random().toString(36).slice(2)}`;
  plaintexts.push(otherValue);
  manifest.spec.secrets!.push(
    { key: 'FOREIGN', encryptedSecret: await sealValue(env(), otherValue, { app: 'other', [NAMESPACE_CONTEXT_KEY]: ns }, env().kms.otherKeyId) },
    { key: 'GARBLED', encryptedSecret: '@@@' },
  );
  const file = join(dir, 'tampered.yaml');
  writeFileSync(file, yaml.dump(manifest));
  const run = await cli(['verify', '--key-id', env().kms.keyId, file]);
  t.is(run.code, 1, run.stdout + run.stderr);
  t.regex(run.stdout, /FAIL .* DB_PASSWORD: InvalidCiphertextException: .*encryption context/);
  t.regex(run.stdout, /FAIL .* FOREIGN: KeyNotAllowed: .*does not accept/);
  t.regex(run.stdout, /FAIL .* GARBLED: .*base64/);
  t.regex(run.stdout, /0 ok, 4 failed/);
  t.false(run.stdout.includes(otherValue));
});

test.serial('usage errors exit 2', async (t) => {
  const run = await cli(['seal', '--path', 'x/y/z', 'A=1']);
  t.is(run.code, 2);
  t.regex(run.stderr, /--key-id is required/);
  const help = await cli(['--help']);
  t.is(help.code, 0);
  t.regex(help.stdout, /seal .*\n.*verify/);
});

test.serial('the samples apply and sync once sealed for this KMS', async (t) => {
  const docs = yaml.loadAll(readFileSync(join(REPO, 'samples/kmsvaultsecret.yaml'), 'utf8')) as Array<KMSVaultSecret | PartialKMSVaultSecret>;
  t.true(docs.length >= 2);
  const expected: Record<string, string> = {};
  const reseal = async (secrets: KMSVaultSecret['spec']['secrets'], context: Record<string, string> | undefined) => {
    for (const s of secrets ?? []) {
      if (s.emptySecret) {
        expected[s.key] = '';
        continue;
      }
      const v = `sample-${s.key}-${Math.random().toString(36).slice(2)}`;
      plaintexts.push(v);
      expected[s.key] = v;
      s.encryptedSecret = await sealValue(env(), v, s.secretContext ?? context);
    }
  };
  let main: KMSVaultSecret | undefined;
  for (const doc of docs) {
    doc.metadata = { ...doc.metadata, namespace: ns };
    // the sample's namespace binding becomes this test's namespace too
    if (doc.spec?.secretContext?.[NAMESPACE_CONTEXT_KEY]) doc.spec.secretContext[NAMESPACE_CONTEXT_KEY] = ns;
    if (doc.kind === 'PartialKMSVaultSecret') {
      const parentContext = (docs.find((d) => d.kind === 'KMSVaultSecret') as KMSVaultSecret).spec.secretContext;
      await reseal(doc.spec.secrets, doc.spec.secretContext ?? parentContext);
      await objects.createRaw(ns, doc, 'partialkmsvaultsecrets');
    }
  }
  for (const doc of docs) {
    if (doc.kind !== 'KMSVaultSecret') continue;
    main = doc as KMSVaultSecret;
    // the sample's mount and namespace folder become this test's
    const [, , ...rest] = main.spec.path.split('/');
    main.spec.path = [mount, ns, ...rest].join('/');
    await reseal(main.spec.secrets, main.spec.secretContext);
    await objects.createRaw(ns, main);
  }
  t.truthy(main);
  await objects.waitReady(ns, main!.metadata!.name!, 'True', 'Synced');
  const secretPath = main!.spec.path.slice(mount.length + 1);
  t.deepEqual(await probe.read(mount, 'v2', secretPath), expected);
});

test.serial('no plaintext in the operator logs, events or statuses', async (t) => {
  const logs = op.logs.text();
  const events = JSON.stringify(await objects.events(ns));
  const statuses = objects.statusesSeen.join('\n');
  t.true(plaintexts.length >= 4);
  for (const v of plaintexts) {
    t.false(logs.includes(v));
    t.false(events.includes(v));
    t.false(statuses.includes(v));
  }
});
