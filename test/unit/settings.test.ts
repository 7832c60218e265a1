import test from 'ava';
import { inWatchScope, Lifecycle, parseOperatorSettings } from '../../operator/settings.js';
import { SettingsError } from '../../operator/vault/settings.js';

test('defaults run every lifecycle with the documented ports and periods', (t) => {
  const s = parseOperatorSettings({});
  t.deepEqual(s.lifecycles, [Lifecycle.Vault, Lifecycle.KmsVaultSecret, Lifecycle.ServiceAccount, Lifecycle.Webhook]);
  t.is(s.healthPort, 8081);
  t.is(s.resyncPeriodMs, 600_000);
});

test('a subset of lifecycles can be chosen', (t) => {
  const s = parseOperatorSettings({ VAULT_AUTOPILOT_LIFECYCLES: 'Vault, serviceaccount' });
  t.deepEqual(s.lifecycles, [Lifecycle.Vault, Lifecycle.ServiceAccount]);
});

test('every bad value is reported at once, naming the variable and what is accepted', (t) => {
  const err = t.throws(() => parseOperatorSettings({ VAULT_AUTOPILOT_LIFECYCLES: 'vault,secrets', VAULT_AUTOPILOT_HEALTH_PORT: 'x', VAULT_AUTOPILOT_LOG_LEVEL: 'loud' }), { instanceOf: SettingsError });
  t.regex(err!.message, /VAULT_AUTOPILOT_LIFECYCLES: unknown secrets \(accepted: vault, kmsvaultsecret, serviceaccount, webhook\)/);
  t.regex(err!.message, /VAULT_AUTOPILOT_HEALTH_PORT must be an integer/);
  t.regex(err!.message, /VAULT_AUTOPILOT_LOG_LEVEL/);
});

test('leader election: off by default; on with the Lease in the pod namespace, client-go timings, identity from the pod name', (t) => {
  t.is(parseOperatorSettings({}).leaderElection, undefined);
  const s = parseOperatorSettings({ VAULT_AUTOPILOT_LEADER_ELECTION: 'true', POD_NAMESPACE: 'ops', POD_NAME: 'vault-autopilot-abc' });
  t.like(s.leaderElection, { namespace: 'ops', leaseName: 'vault-autopilot-leader', leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2000 });
  t.regex(s.leaderElection!.identity, /^vault-autopilot-abc_\d+$/);
  const custom = parseOperatorSettings({
    VAULT_AUTOPILOT_LEADER_ELECTION: 'true',
    VAULT_AUTOPILOT_LEADER_ELECTION_NAMESPACE: 'x',
    VAULT_AUTOPILOT_LEADER_ELECTION_LEASE: 'l',
    VAULT_AUTOPILOT_LEADER_ELECTION_LEASE_SECONDS: '4',
    VAULT_AUTOPILOT_LEADER_ELECTION_RENEW_DEADLINE_SECONDS: '3',
    VAULT_AUTOPILOT_LEADER_ELECTION_RETRY_PERIOD_SECONDS: '0.5',
  });
  t.like(custom.leaderElection, { namespace: 'x', leaseName: 'l', leaseDurationMs: 4000, renewDeadlineMs: 3000, retryPeriodMs: 500 });
});

test('leader election: a namespace is required, the old leader must give up before a follower may take over', (t) => {
  const err = t.throws(() => parseOperatorSettings({ VAULT_AUTOPILOT_LEADER_ELECTION: 'true', VAULT_AUTOPILOT_LEADER_ELECTION_RENEW_DEADLINE_SECONDS: '20' }), { instanceOf: SettingsError });
  t.regex(err!.message, /Lease's namespace is unknown/);
  t.regex(err!.message, /RENEW_DEADLINE_SECONDS must be below VAULT_AUTOPILOT_LEADER_ELECTION_LEASE_SECONDS/);
  t.throws(() => parseOperatorSettings({ VAULT_AUTOPILOT_LEADER_ELECTION: 'yes' }), { message: /must be true or false/ });
});

test('install scope: VAULT_AUTOPILOT_WATCH_NAMESPACES is a comma list (OLM targetNamespaces format); empty = all namespaces', (t) => {
  t.is(parseOperatorSettings({}).watchNamespaces, undefined);
  t.is(parseOperatorSettings({ VAULT_AUTOPILOT_WATCH_NAMESPACES: '' }).watchNamespaces, undefined, 'OLM AllNamespaces writes ""');
  t.deepEqual(parseOperatorSettings({ VAULT_AUTOPILOT_WATCH_NAMESPACES: ' shop, vault-system,shop ' }).watchNamespaces, ['shop', 'vault-system']);
  const err = t.throws(() => parseOperatorSettings({ VAULT_AUTOPILOT_WATCH_NAMESPACES: 'shop,Bad_NS' }));
  t.regex(err.message, /VAULT_AUTOPILOT_WATCH_NAMESPACES: not namespace names: "Bad_NS"/);
  t.true(inWatchScope(undefined, 'any'));
  t.true(inWatchScope(['a'], 'a'));
  t.false(inWatchScope(['a'], 'b'));
  t.false(inWatchScope(['a'], undefined));
});
