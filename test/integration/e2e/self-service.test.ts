// THE TALK'S WHOLE FLOW, end to end, against the real kube-apiserver, Vault and
// local-kms: a Vault resource (external mode, Kubernetes auth pointed at the
// harness's apiserver), a KMS-sealed KMSVaultSecret at the ServiceAccount's
// path, and the sample ServiceAccount with its one annotation. A TokenRequest
// token logs in through Kubernetes auth (Vault calls the real TokenReview),
// reads exactly the sealed plaintext, is denied another namespace's secret,
// and can no longer log in once the ServiceAccount is deleted.
import test from 'ava';
import { eventually, WITHIN, useTestEnv } from '../../harness/index.js';
import { SelfServiceFlow } from './self-service-flow.js';

const env = useTestEnv(test);
let flow: SelfServiceFlow;
let jwt = '';
let vaultToken = '';

test.before(async () => {
  flow = new SelfServiceFlow(env());
  await flow.startOperator();
});

test.after.always(async () => {
  await flow?.tearDown();
});

test.serial('platform team: a Vault resource adopts the Vault and mounts Kubernetes auth against this apiserver', async (t) => {
  const result = await flow.createVault();
  t.regex(result.ready, /initialised, unsealed and configured/);
  const config = await flow.vaultRoot('GET', `auth/${flow.authPath}/config`);
  t.is(config.json.data?.kubernetes_host, env().apiserverUrl);
});

test.serial('service owner: a KMS-sealed KMSVaultSecret lands in Vault at the ServiceAccount\'s path', async (t) => {
  const own = await flow.sealSecret();
  t.is(own.vaultPath, `secret/${flow.appNamespace}/orders/config`);
  // another team's secret, at the same ServiceAccount name in their namespace
  const other = await flow.otherTeamSecret('another-teams-secret');
  t.is(other.vaultPath, `secret/${flow.otherNamespace}/orders/config`);
  const stored = await flow.vaultRoot('GET', `secret/data/${flow.secretPath()}`);
  t.is(stored.json.data?.data?.password, flow.plaintext);
});

test.serial('service owner: the sample ServiceAccount\'s one annotation yields a role bound to exactly it, and its policy, in Vault', async (t) => {
  const result = await flow.annotateServiceAccount();
  t.is(result.annotations['vault.autopilot.dev/auto-configure'], 'true');
  t.deepEqual(result.role['bound_service_account_names'], ['orders']);
  t.deepEqual(result.role['bound_service_account_namespaces'], [flow.appNamespace]);
  t.deepEqual(result.role['token_policies'], [flow.role]);
  t.true(result.policy.includes(`path "secret/data/${flow.appNamespace}/orders/*"`));
});

test.serial('a TokenRequest token logs in through Kubernetes auth (real TokenReview) and gets the role\'s policy', async (t) => {
  jwt = await flow.requestToken();
  const login = await flow.login(jwt);
  t.is(login.status, 200, JSON.stringify(login.json.errors ?? []));
  t.truthy(login.token);
  t.true(login.policies?.includes(flow.role));
  vaultToken = login.token!;
});

test.serial('it reads exactly the plaintext that was KMS-encrypted', async (t) => {
  const read = await flow.readSecret(vaultToken);
  t.is(read.status, 200);
  t.is(read.password, flow.plaintext);
});

test.serial('it is denied another namespace\'s secret', async (t) => {
  const read = await flow.readSecret(vaultToken, flow.otherNamespace);
  t.is(read.status, 403);
  t.is(read.password, undefined);
});

test.serial('after the ServiceAccount is deleted its role and policy leave Vault and login fails', async (t) => {
  const gone = await flow.deleteServiceAccount();
  t.is(gone.roleStatus, 404);
  t.is(gone.policyStatus, 404);
  const login = await eventually(async () => {
    const res = await flow.login(jwt);
    if (res.status === 200) throw new Error('login still succeeds');
    return res;
  }, WITHIN.reconcile);
  t.true(login.status >= 400 && login.status < 500, `status ${login.status}`);
  t.is(login.token, undefined);
});

test.serial('no plaintext, JWT or Vault token reached the operator\'s logs or Events', async (t) => {
  t.deepEqual(flow.leakedSecrets().length, 0);
  for (const namespace of [flow.appNamespace, flow.otherNamespace, flow.vaultNamespace]) {
    const events = await flow.kube.core.listNamespacedEvent({ namespace });
    const text = JSON.stringify(events.items.map((e) => e.message));
    t.false(flow.secrets.some((s) => text.includes(s)), `an Event in ${namespace} carries a secret`);
  }
  t.true(flow.logs.text().length > 0, 'the operator logged');
});
