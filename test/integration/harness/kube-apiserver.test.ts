// The apiserver of the harness answers as a real one does: objects are
// stored, ServiceAccount tokens can be requested and reviewed.
import test from 'ava';
import { AuthenticationV1Api, CoreV1Api, VersionApi } from '@kubernetes/client-node';
import { useTestEnv } from '../../harness/index.js';
import { pinnedVersions } from '../../harness/versions.js';

const env = useTestEnv(test, { vault: false, kms: false }); // options apply when run alone (private servers)

test('reports the pinned version', async (t) => {
  const version = await env().kubeConfig().makeApiClient(VersionApi).getCode();
  // the binary the harness built from build-servers.sh's KUBE_VERSION, not just any v1.x.y
  t.is(version.gitVersion.replace(/^v/, ''), pinnedVersions()['kube-apiserver'].replace(/^v/, ''));
});

test('stores a ConfigMap in a namespace of this test file', async (t) => {
  const namespace = await env().namespace('harness-smoke');
  const core = env().kubeConfig().makeApiClient(CoreV1Api);
  await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'greeting' }, data: { hello: 'world' } } });
  const read = await core.readNamespacedConfigMap({ namespace, name: 'greeting' });
  t.is(read.data?.hello, 'world');
  t.is(read.metadata?.namespace, namespace);
});

test('issues a ServiceAccount token (TokenRequest) that a TokenReview accepts', async (t) => {
  const namespace = await env().namespace('harness-tokens');
  const kc = env().kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'app' } } });
  const request = await core.createNamespacedServiceAccountToken({
    namespace,
    name: 'app',
    body: { spec: { audiences: [env().apiserverUrl], expirationSeconds: 600 } },
  });
  const token = request.status?.token;
  t.truthy(token);

  const auth = kc.makeApiClient(AuthenticationV1Api);
  const review = await auth.createTokenReview({ body: { spec: { token: token! } } });
  t.true(review.status?.authenticated);
  t.is(review.status?.user?.username, `system:serviceaccount:${namespace}:app`);

  const forged = await auth.createTokenReview({ body: { spec: { token: `${token!.slice(0, -4)}AAAA` } } });
  t.not(forged.status?.authenticated, true);
});

test('the serving certificate is verified: without the kubeconfig CA the connection is refused', async (t) => {
  const kc = env().kubeConfig();
  const cluster = kc.getCurrentCluster()!;
  // Without the kubeconfig's CA, only the system CAs apply, and they did not sign it.
  const bogus = { ...cluster, caData: undefined, caFile: undefined, skipTLSVerify: false };
  kc.clusters = kc.clusters.map((c) => (c.name === cluster.name ? bogus : c));
  await t.throwsAsync(kc.makeApiClient(CoreV1Api).listNamespace(), { any: true, message: /certificate/ });
});
