import test from 'ava';
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { INJECTED_NAMES, mutatePod, type MutationOutcome } from '../../../operator/webhook/mutate.js';
import { jsonEqual } from '../../../operator/webhook/json-patch.js';
import type { AgentConfig } from '../../../operator/webhook/agent-config.js';
import { applyPatch } from './helpers/apply-patch.js';
import { PREFIX, aPod, ann, someSettings } from './helpers/builders.js';
import { CONFIG_CHECKSUM_ANNOTATION, TLS_CHECKSUM_ANNOTATION } from '../../../operator/controllers/vault/desired-objects.js';

function patched(outcome: MutationOutcome): { pod: V1Pod; patchLength: number; warnings: string[] } {
  if (outcome.action !== 'patch') throw new Error(`expected a patch, got ${JSON.stringify(outcome)}`);
  return { pod: outcome.pod, patchLength: outcome.patch.length, warnings: outcome.warnings };
}
const init = (pod: V1Pod, name: string): V1Container | undefined => pod.spec?.initContainers?.find((c) => c.name === name);
const container = (pod: V1Pod, name: string): V1Container | undefined => pod.spec?.containers.find((c) => c.name === name);
const agentConfig = (c: V1Container): AgentConfig =>
  JSON.parse(Buffer.from(c.env!.find((e) => e.name === 'VAULT_CONFIG')!.value!, 'base64').toString('utf8')) as AgentConfig;
const envOf = (c: V1Container | undefined): Record<string, string | undefined> =>
  Object.fromEntries((c?.env ?? []).map((e) => [e.name, e.value]));

const secretAnn = { 'agent-inject': 'true', 'agent-inject-secret-db.env': 'secret/data/team-a/db' };

test('the patch derived by diff turns the original into the mutated pod, for every injecting case', (t) => {
  const pods = [
    aPod({ annotations: ann(secretAnn) }),
    aPod({ annotations: ann({ ...secretAnn, 'agent-pre-populate-only': 'true' }) }),
    aPod({ annotations: ann({ 'inject-env': 'app,tools' }), containers: [{ name: 'app' }, { name: 'tools' }, { name: 'other' }] }),
    aPod({ annotations: ann({ ...secretAnn, 'inject-env': 'prep' }), initContainers: [{ name: 'prep' }] }),
  ];
  for (const pod of pods) {
    for (const nativeSidecars of [true, false]) {
      const outcome = mutatePod(pod, 'team-a', someSettings({ nativeSidecars }));
      if (outcome.action !== 'patch') return t.fail(JSON.stringify(outcome));
      t.true(outcome.patch.length > 0);
      t.true(jsonEqual(applyPatch(pod, outcome.patch), outcome.pod));
    }
  }
});

test('agent injection with native sidecars: init + restartPolicy Always sidecar, volumes, status marker', (t) => {
  const pod = aPod({ annotations: ann(secretAnn), serviceAccountName: 'billing', initContainers: [{ name: 'migrate' }] });
  const before = structuredClone(pod);
  const { pod: out } = patched(mutatePod(pod, 'team-a', someSettings({ nativeSidecars: true })));
  t.deepEqual(pod, before, 'input is not modified');
  t.deepEqual(out.spec!.initContainers!.map((c) => c.name), ['vault-agent-init', 'vault-agent', 'migrate']);
  t.is(init(out, 'vault-agent')!.restartPolicy, 'Always');
  t.is(init(out, 'vault-agent-init')!.restartPolicy, undefined);
  t.deepEqual(out.spec!.containers.map((c) => c.name), ['app']);
  const volumes = Object.fromEntries(out.spec!.volumes!.map((v) => [v.name, v]));
  t.is(volumes[INJECTED_NAMES.secretsVolume]!.emptyDir!.medium, 'Memory');
  t.is(volumes[INJECTED_NAMES.caVolume]!.configMap!.name, 'vault-ca-vault-system-vault');
  t.truthy(volumes[INJECTED_NAMES.tokenVolume]!.projected);
  t.is(out.metadata!.annotations![`${PREFIX}agent-inject-status`], 'injected');
  t.true(container(out, 'app')!.volumeMounts!.some((m) => m.mountPath === '/vault/secrets' && m.readOnly));
  t.true(init(out, 'migrate')!.volumeMounts!.some((m) => m.mountPath === '/vault/secrets'));

  const initConfig = agentConfig(init(out, 'vault-agent-init')!);
  const sidecarConfig = agentConfig(init(out, 'vault-agent')!);
  t.true(initConfig.exit_after_auth);
  t.false(sidecarConfig.exit_after_auth);
  t.is(initConfig.auto_auth.method[0]!.config.role, 'sa.team-a.billing');
  t.is(initConfig.auto_auth.method[0]!.mount_path, 'auth/kubernetes');
  t.is(initConfig.vault.address, 'https://vault.vault-system.svc:8200');
  t.is(initConfig.vault.ca_cert, '/vault/tls/ca.crt');
  t.deepEqual(initConfig.template.map((x) => x.destination), ['/vault/secrets/db.env']);
  t.regex(initConfig.template[0]!.contents, /with secret "secret\/data\/team-a\/db"/);
  t.is(init(out, 'vault-agent-init')!.image, 'hashicorp/vault:1.21.4');
});

test('classic sidecar when native sidecars are not supported', (t) => {
  const { pod: out } = patched(mutatePod(aPod({ annotations: ann(secretAnn) }), 'team-a', someSettings({ nativeSidecars: false })));
  t.deepEqual(out.spec!.initContainers!.map((c) => c.name), ['vault-agent-init']);
  t.deepEqual(out.spec!.containers.map((c) => c.name), ['app', 'vault-agent']);
  t.is(container(out, 'vault-agent')!.restartPolicy, undefined);
});

test('pre-populate-only: init container, no sidecar', (t) => {
  for (const nativeSidecars of [true, false]) {
    const { pod: out } = patched(
      mutatePod(aPod({ annotations: ann({ ...secretAnn, 'agent-pre-populate-only': 'true' }) }), 'team-a', someSettings({ nativeSidecars })),
    );
    t.deepEqual(out.spec!.initContainers!.map((c) => c.name), ['vault-agent-init']);
    t.deepEqual(out.spec!.containers.map((c) => c.name), ['app']);
  }
});

test('agent-init-first "false" appends after the user init containers', (t) => {
  const { pod: out } = patched(
    mutatePod(aPod({ annotations: ann({ ...secretAnn, 'agent-init-first': 'false' }), initContainers: [{ name: 'migrate' }] }), 'team-a', someSettings()),
  );
  t.deepEqual(out.spec!.initContainers!.map((c) => c.name), ['migrate', 'vault-agent-init', 'vault-agent']);
  t.falsy(init(out, 'migrate')!.volumeMounts, 'an init container running before the agent gets no secrets mount');
});

test('annotations override role, auth path, image, resources and templates', (t) => {
  const { pod: out } = patched(
    mutatePod(
      aPod({
        annotations: ann({
          ...secretAnn,
          role: 'custom-role',
          'auth-path': 'k8s-east',
          'agent-image': 'registry.local/vault:1.21.4',
          'agent-requests-cpu': '10m',
          'agent-limits-mem': '1Gi',
          'agent-inject-template-db.env': '{{ with secret "secret/data/team-a/db" }}{{ .Data.data.password }}{{ end }}',
        }),
      }),
      'team-a',
      someSettings(),
    ),
  );
  const agent = init(out, 'vault-agent-init')!;
  const config = agentConfig(agent);
  t.is(config.auto_auth.method[0]!.config.role, 'custom-role');
  t.is(config.auto_auth.method[0]!.mount_path, 'auth/k8s-east');
  t.is(agent.image, 'registry.local/vault:1.21.4');
  t.deepEqual(agent.resources, { requests: { cpu: '10m', memory: '64Mi' }, limits: { cpu: '500m', memory: '1Gi' } });
  t.is(config.template[0]!.contents, '{{ with secret "secret/data/team-a/db" }}{{ .Data.data.password }}{{ end }}');
});

test('default role uses the "default" ServiceAccount when the pod names none', (t) => {
  const { pod: out } = patched(mutatePod(aPod({ annotations: ann(secretAnn) }), 'team-b', someSettings()));
  t.is(agentConfig(init(out, 'vault-agent-init')!).auto_auth.method[0]!.config.role, 'sa.team-b.default');
  t.is(out.spec!.serviceAccountName, 'default', 'a projected token needs a named ServiceAccount (the apiserver refuses it otherwise)');
  const { warnings } = patched(mutatePod(aPod({ annotations: ann(secretAnn) }), 'team-b', someSettings()));
  t.regex(warnings.join(), /runs as ServiceAccount "default"/);
  const named = patched(mutatePod(aPod({ annotations: ann(secretAnn), serviceAccountName: 'orders' }), 'team-b', someSettings()));
  t.deepEqual(named.warnings, []);
});

test('inject-env: VAULT_ADDR, VAULT_CACERT and the CA mount in exactly the named containers', (t) => {
  const pod = aPod({
    annotations: ann({ 'inject-env': 'app, tools' }),
    containers: [{ name: 'app' }, { name: 'tools', env: [{ name: 'VAULT_ADDR', value: 'https://mine:8200' }] }, { name: 'other' }],
  });
  const { pod: out } = patched(mutatePod(pod, 'team-a', someSettings()));
  t.deepEqual(envOf(container(out, 'app')), { VAULT_ADDR: 'https://vault.vault-system.svc:8200', VAULT_CACERT: '/vault/tls/ca.crt' });
  t.deepEqual(envOf(container(out, 'tools')), { VAULT_ADDR: 'https://mine:8200', VAULT_CACERT: '/vault/tls/ca.crt' }, 'user value kept');
  t.deepEqual(envOf(container(out, 'other')), {});
  t.falsy(container(out, 'other')!.volumeMounts);
  for (const name of ['app', 'tools']) {
    t.deepEqual(container(out, name)!.volumeMounts, [{ name: 'vault-ca', mountPath: '/vault/tls', readOnly: true }]);
  }
  t.falsy(out.spec!.initContainers, 'no agent');
  t.falsy(out.metadata!.annotations![`${PREFIX}agent-inject-status`]);
});

test('inject-env without a CA (plain-HTTP Vault) sets only VAULT_ADDR and mounts nothing', (t) => {
  const { pod: out } = patched(
    mutatePod(aPod({ annotations: ann({ 'inject-env': 'app' }) }), 'team-a', someSettings({ vault: { address: 'http://vault.example:8200' } })),
  );
  t.deepEqual(envOf(container(out, 'app')), { VAULT_ADDR: 'http://vault.example:8200' });
  t.falsy(out.spec!.volumes);
});

test('re-admission of a mutated pod is a no-op (idempotent)', (t) => {
  const cases = [
    aPod({ annotations: ann(secretAnn) }),
    aPod({ annotations: ann({ ...secretAnn, 'inject-env': 'app' }) }),
    aPod({ annotations: ann({ 'inject-env': 'app' }) }),
  ];
  for (const pod of cases) {
    for (const nativeSidecars of [true, false]) {
      const first = patched(mutatePod(pod, 'team-a', someSettings({ nativeSidecars })));
      t.true(first.patchLength > 0);
      const second = patched(mutatePod(first.pod, 'team-a', someSettings({ nativeSidecars })));
      t.is(second.patchLength, 0);
    }
  }
});

const skipCases: Array<{ name: string; pod: V1Pod; namespace: string }> = [
  { name: 'unannotated pod', pod: aPod({ annotations: { 'other.io/x': 'y' } }), namespace: 'team-a' },
  { name: 'pod with no metadata annotations', pod: aPod(), namespace: 'team-a' },
  { name: 'kube-system', pod: aPod({ annotations: ann(secretAnn) }), namespace: 'kube-system' },
  { name: 'kube-node-lease', pod: aPod({ annotations: ann(secretAnn) }), namespace: 'kube-node-lease' },
  { name: "the operator's own namespace", pod: aPod({ annotations: ann(secretAnn) }), namespace: 'vault-autopilot' },
  {
    name: "a Vault server pod carrying the Vault controller's own annotations under the shared prefix",
    pod: aPod({ annotations: { [CONFIG_CHECKSUM_ANNOTATION]: 'abc', [TLS_CHECKSUM_ANNOTATION]: 'def', [`${PREFIX}kms-key-id`]: 'k' } }),
    namespace: 'vault-system',
  },
];
for (const c of skipCases) {
  test(`skip: ${c.name}`, (t) => {
    t.is(mutatePod(c.pod, c.namespace, someSettings()).action, 'skip');
  });
}

const denyCases: Array<{ name: string; annotations: Record<string, string>; message: RegExp; containers?: string[] }> = [
  { name: 'agent-inject not a boolean', annotations: { 'agent-inject': 'yes' }, message: /vault\.autopilot\.dev\/agent-inject: "yes" is not accepted; use "true" or "false"/ },
  { name: 'unknown container in inject-env', annotations: { 'inject-env': 'app,wrong' }, message: /inject-env: the pod has no container "wrong"; its containers are app/ },
  { name: 'empty entry in inject-env', annotations: { 'inject-env': 'app,,' }, message: /inject-env: "" is not a container name/ },
  { name: 'unknown annotation (typo)', annotations: { 'agent-injct': 'true' }, message: /vault\.autopilot\.dev\/agent-injct is not known; accepted annotations are .*agent-inject,/ },
  { name: 'unknown inject-* annotation (typo)', annotations: { 'inject-envs': 'app' }, message: /vault\.autopilot\.dev\/inject-envs is not known/ },
  { name: 'secret path with a space', annotations: { 'agent-inject': 'true', 'agent-inject-secret-x': 'secret/a b' }, message: /agent-inject-secret-x: "secret\/a b" is not a Vault path/ },
  { name: 'secret path with leading slash', annotations: { 'agent-inject': 'true', 'agent-inject-secret-x': '/secret/a' }, message: /agent-inject-secret-x: .* is not a Vault path/ },
  { name: 'bad file name', annotations: { 'agent-inject': 'true', 'agent-inject-secret-.hidden': 'secret/a' }, message: /file name ".hidden" is not accepted/ },
  { name: 'template without secret', annotations: { ...secretAnn, 'agent-inject-template-other': '{{ . }}' }, message: /agent-inject-template-other has no matching vault\.autopilot\.dev\/agent-inject-secret-other/ },
  { name: 'agent-inject without secrets', annotations: { 'agent-inject': 'true' }, message: /no vault\.autopilot\.dev\/agent-inject-secret-<file> annotation/ },
  { name: 'bad quantity', annotations: { ...secretAnn, 'agent-limits-mem': 'lots' }, message: /agent-limits-mem: "lots" is not accepted; expected a Kubernetes quantity/ },
  { name: 'bad vault reference', annotations: { ...secretAnn, vault: 'a/b/c' }, message: /vault: "a\/b\/c" is not accepted; expected "<namespace>\/<name>"/ },
  { name: 'bad status value', annotations: { ...secretAnn, 'agent-inject-status': 'update' }, message: /agent-inject-status: "update" is not accepted/ },
  { name: 'pre-populate-only not a boolean', annotations: { ...secretAnn, 'agent-pre-populate-only': 'TRUE' }, message: /agent-pre-populate-only: "TRUE"/ },
  { name: 'several problems are all reported', annotations: { 'agent-inject': 'maybe', 'inject-env': 'nope' }, message: /agent-inject: "maybe".*; .*inject-env: the pod has no container "nope"/ },
  { name: 'reserved container name', annotations: secretAnn, containers: ['app', 'vault-agent'], message: /container name vault-agent is reserved/ },
];
for (const c of denyCases) {
  test(`deny: ${c.name}`, (t) => {
    const pod = aPod({ annotations: ann(c.annotations), containers: (c.containers ?? ['app']).map((name) => ({ name })) });
    const outcome = mutatePod(pod, 'team-a', someSettings());
    if (outcome.action !== 'deny') return t.fail(`expected deny, got ${outcome.action}`);
    t.regex(outcome.message, c.message);
  });
}

test('agent settings without agent-inject "true" pass with a warning and no patch', (t) => {
  const outcome = mutatePod(aPod({ annotations: ann({ 'agent-inject': 'false', 'agent-inject-secret-x': 'secret/x' }) }), 'team-a', someSettings());
  const { patchLength, warnings } = patched(outcome);
  t.is(patchLength, 0);
  t.regex(warnings.join(), /agent-inject-secret-x ignored/);
});

test('a configurable annotation prefix is honoured and the default prefix is then unknown-free', (t) => {
  const pod = aPod({ annotations: { 'vault.example.com/inject-env': 'app', 'vault.autopilot.dev/agent-inject': 'true' } });
  const { pod: out } = patched(mutatePod(pod, 'team-a', someSettings({ annotationPrefix: 'vault.example.com/' })));
  t.is(envOf(container(out, 'app')).VAULT_ADDR, 'https://vault.vault-system.svc:8200');
  t.falsy(out.spec!.initContainers, 'the default-prefixed annotation is not ours under another prefix');
});

test('injection without a resolved Vault is denied, not skipped', (t) => {
  const outcome = mutatePod(aPod({ annotations: ann({ 'inject-env': 'app' }) }), 'team-a', someSettings({ vault: undefined }));
  t.is(outcome.action, 'deny');
});

test('automountServiceAccountToken: false still logs in: the agents mount their own projected token; templates that keep failing stop the agent', (t) => {
  const pod = aPod({ annotations: ann(secretAnn), serviceAccountName: 'billing' });
  pod.spec!.automountServiceAccountToken = false;
  for (const nativeSidecars of [true, false]) {
    const { pod: out } = patched(mutatePod(pod, 'team-a', someSettings({ nativeSidecars })));
    t.is(out.spec!.automountServiceAccountToken, false, 'the pod setting is kept');
    const token = out.spec!.volumes!.find((v) => v.name === INJECTED_NAMES.tokenVolume)!;
    t.deepEqual(token.projected!.sources!.map((s) => s.serviceAccountToken?.path), ['token']);
    const agents = [...(out.spec!.initContainers ?? []), ...out.spec!.containers].filter((c) => c.name.startsWith('vault-agent'));
    t.is(agents.length, 2);
    for (const agent of agents) {
      const mount = agent.volumeMounts!.find((m) => m.name === INJECTED_NAMES.tokenVolume)!;
      t.truthy(mount, `${agent.name} mounts the token`);
      const config = agentConfig(agent);
      t.is(config.auto_auth.method[0]!.config.token_path, `${mount.mountPath}/token`, `${agent.name} reads the token it mounts`);
      t.true(config.template_config.exit_on_retry_failure, `${agent.name}: exit instead of running the app without its secrets`);
    }
    t.false(container(out, 'app')!.volumeMounts?.some((m) => m.name === INJECTED_NAMES.tokenVolume) ?? false, 'the app gets no token from us');
  }
});

test('install scope: pods outside the watched namespaces are left alone, inside they are mutated', (t) => {
  const pod = aPod({ annotations: ann(secretAnn) });
  const scoped = someSettings({ watchNamespaces: ['team-a'] });
  t.is(mutatePod(pod, 'team-a', scoped).action, 'patch');
  t.deepEqual(mutatePod(pod, 'team-b', scoped), { action: 'skip', reason: 'namespace team-b is outside the install scope' });
});
