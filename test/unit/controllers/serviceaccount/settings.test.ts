import test from 'ava';
import {
  DEFAULT_POLICY_TEMPLATE,
  SERVICE_ACCOUNT_SETTING as S,
  SettingsError,
  checkPolicyTemplate,
  parseDuration,
  parseServiceAccountSettings,
  parseVaultRef,
  renderPolicyTemplate,
} from '../../../../operator/controllers/serviceaccount/settings.js';

test('defaults: vault-system/vault, kubernetes auth path, 5m/1h TTLs, default SA refused, default template', (t) => {
  const s = parseServiceAccountSettings({});
  t.deepEqual(s.defaultTargetVault, { namespace: 'vault-system', name: 'vault' });
  t.is(s.kubernetesAuthPath, 'kubernetes');
  t.is(s.tokenTtlSeconds, 300);
  t.is(s.tokenMaxTtlSeconds, 3600);
  t.false(s.allowDefaultServiceAccount);
  t.is(s.policyTemplate, DEFAULT_POLICY_TEMPLATE);
  t.is(s.annotationPrefix, 'vault.autopilot.dev/');
});

test('every setting is read from its variable', (t) => {
  const s = parseServiceAccountSettings({
    [S.annotationPrefix]: 'example.com',
    [S.targetVault]: 'ops/main',
    [S.kubernetesAuthPath]: '/k8s/prod/',
    [S.policyTemplate]: 'path "kv/{{ namespace }}/{{name}}" { capabilities = ["read"] }',
    [S.tokenTtl]: '90s',
    [S.tokenMaxTtl]: '2h',
    [S.allowDefaultServiceAccount]: 'TRUE',
  });
  t.is(s.annotationPrefix, 'example.com/');
  t.deepEqual(s.defaultTargetVault, { namespace: 'ops', name: 'main' });
  t.is(s.kubernetesAuthPath, 'k8s/prod');
  t.is(s.tokenTtlSeconds, 90);
  t.is(s.tokenMaxTtlSeconds, 7200);
  t.true(s.allowDefaultServiceAccount);
  t.true(s.policyTemplate.startsWith('path "kv/'));
});

test('every bad value is listed in one SettingsError', (t) => {
  const err = t.throws(() => parseServiceAccountSettings({ [S.targetVault]: 'vault', [S.tokenTtl]: 'soon', [S.allowDefaultServiceAccount]: 'yes', [S.kubernetesAuthPath]: 'a b' }), { instanceOf: SettingsError });
  t.is(err!.problems.length, 4, err!.message);
});

test('the policy template can come from a file', (t) => {
  const read: string[] = [];
  const s = parseServiceAccountSettings({ [S.policyTemplateFile]: '/etc/tpl.hcl' }, (p) => {
    read.push(p);
    return 'path "x/{{namespace}}" {}';
  });
  t.deepEqual(read, ['/etc/tpl.hcl']);
  t.is(s.policyTemplate, 'path "x/{{namespace}}" {}');
});

test('an unreadable template file names the variable', (t) => {
  const err = t.throws(
    () =>
      parseServiceAccountSettings({ [S.policyTemplateFile]: '/nope' }, () => {
        throw new Error('ENOENT');
      }),
    { instanceOf: SettingsError },
  );
  t.regex(err!.message, /VAULT_AUTOPILOT_POLICY_TEMPLATE_FILE.*\/nope.*ENOENT/);
});

test('bad values are rejected with the variable name', (t) => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ [S.targetVault]: 'vault' }, /VAULT_AUTOPILOT_TARGET_VAULT must be <namespace>\/<name>/],
    [{ [S.targetVault]: 'A/B' }, /VAULT_AUTOPILOT_TARGET_VAULT/],
    [{ [S.tokenTtl]: 'five minutes' }, /VAULT_AUTOPILOT_SA_TOKEN_TTL must be a duration/],
    [{ [S.tokenTtl]: '2h', [S.tokenMaxTtl]: '1h' }, /must not exceed VAULT_AUTOPILOT_SA_TOKEN_MAX_TTL/],
    [{ [S.allowDefaultServiceAccount]: 'yes' }, /VAULT_AUTOPILOT_ALLOW_DEFAULT_SERVICEACCOUNT must be true or false/],
    [{ [S.policyTemplate]: 'path "{{ns}}" {}' }, /unknown placeholder\(s\) \{\{ns\}\}/],
    [{ [S.policyTemplate]: 'x', [S.policyTemplateFile]: '/f' }, /either/],
    [{ [S.kubernetesAuthPath]: 'a b' }, /VAULT_AUTOPILOT_KUBERNETES_AUTH_PATH/],
  ];
  for (const [env, message] of cases) {
    const err = t.throws(() => parseServiceAccountSettings(env, () => 'x'), { instanceOf: SettingsError });
    t.regex(err!.message, message, JSON.stringify(env));
  }
});

test('a max TTL of 0 (system default) accepts any TTL', (t) => {
  const s = parseServiceAccountSettings({ [S.tokenTtl]: '2h', [S.tokenMaxTtl]: '0' });
  t.is(s.tokenTtlSeconds, 7200);
  t.is(s.tokenMaxTtlSeconds, 0);
});

// the grammar itself is tested with the settings kit (test/unit/framework/settings-kit.test.ts)
test('parseDuration: the one grammar in whole seconds (Vault reads role TTLs back in seconds)', (t) => {
  t.deepEqual(['300', '1h30m', '1d', '500ms', '5 m'].map(parseDuration), [300, 5400, 86400, undefined, undefined]);
});

test('parseVaultRef accepts namespace/name only', (t) => {
  t.deepEqual(parseVaultRef('vault-system/vault'), { namespace: 'vault-system', name: 'vault' });
  t.deepEqual(parseVaultRef(' a/b.c '), { namespace: 'a', name: 'b.c' });
  for (const bad of ['vault', 'a/b/c', '/b', 'a/', 'A/b', 'a.b/c', 'a/-b']) t.is(parseVaultRef(bad), undefined, bad);
});

test('the template renders both placeholders everywhere they occur, spaces allowed', (t) => {
  t.is(renderPolicyTemplate('{{namespace}}/{{ name }}/{{namespace}}', { namespace: 'team', name: 'api' }), 'team/api/team');
  t.is(checkPolicyTemplate('  '), 'is empty');
  t.is(checkPolicyTemplate(DEFAULT_POLICY_TEMPLATE), undefined);
});

test('the default template grants read/list on the ServiceAccount\'s own KV v2 data and metadata', (t) => {
  const rendered = renderPolicyTemplate(DEFAULT_POLICY_TEMPLATE, { namespace: 'shop', name: 'cart' });
  t.regex(rendered, /path "secret\/data\/shop\/cart\/\*" \{\n {2}capabilities = \["read", "list"\]\n\}/);
  t.regex(rendered, /path "secret\/metadata\/shop\/cart\/\*" \{\n {2}capabilities = \["read", "list"\]\n\}/);
  t.notRegex(rendered, /\{\{/);
  t.notRegex(rendered, /create|update|delete|sudo/);
});
