import test from 'ava';
import { mentionsAccessors, replaceAccessors } from '../../../operator/vault/accessors.js';

const accessors = new Map([
  ['kubernetes', 'auth_kubernetes_1'],
  ['kubernetes_cluster', 'auth_kubernetes_2'],
]);

test('placeholders in policy rules and PKI allowed_domains get the accessor; the longest mount wins', (t) => {
  const config = {
    policies: [
      { name: 'a', rules: 'path "x/{{identity.entity.aliases.__accessor__kubernetes_cluster.name}}" {} # __accessor__kubernetes' },
      { name: 'b', rules: 'path "y" {}' },
    ],
    secrets: [{ type: 'pki', configuration: { roles: [{ name: 'r', allowed_domains: ['{{identity.entity.aliases.__accessor__kubernetes.name}}', 'plain'] }], 'config/urls': [{ issuing_certificates: ['__accessor__kubernetes'] }] } }],
  };
  t.true(mentionsAccessors(config));
  const { config: out, unresolved } = replaceAccessors(config, accessors);
  t.deepEqual(unresolved, []);
  t.is(out.policies![0]!.rules, 'path "x/{{identity.entity.aliases.auth_kubernetes_2.name}}" {} # auth_kubernetes_1');
  t.is(out.policies![1], config.policies[1], 'untouched entries are the same objects');
  const roles = (out.secrets![0]!.configuration as Record<string, Array<Record<string, unknown>>>)['roles']!;
  t.deepEqual(roles[0]!['allowed_domains'], ['{{identity.entity.aliases.auth_kubernetes_1.name}}', 'plain']);
  // only allowed_domains is templated, as in Bank-Vaults
  t.deepEqual((out.secrets![0]!.configuration as Record<string, Array<Record<string, unknown>>>)['config/urls']![0], { issuing_certificates: ['__accessor__kubernetes'] });
});

test('a placeholder of a mount that does not exist is left and named', (t) => {
  const { config, unresolved } = replaceAccessors({ policies: [{ name: 'a', rules: 'path "{{identity.entity.aliases.__accessor__k8s-new.metadata.x}}" {}' }] }, accessors);
  t.deepEqual(unresolved, ['k8s-new']);
  t.true(config.policies![0]!.rules.includes('__accessor__k8s-new'));
  t.false(mentionsAccessors({ policies: [{ name: 'a', rules: 'path "y" {}' }] }));
});
