import test from 'ava';
import { Lifecycle, parseOperatorSettings } from '../../operator/settings.js';
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
