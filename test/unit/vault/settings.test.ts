import test from 'ava';
import { parseVaultConnectionSettings, SettingsError } from '../../../operator/vault/settings.js';

const files: Record<string, string> = { '/ca.pem': '-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n' };
const readFile = (p: string): string => {
  const content = files[p];
  if (content === undefined) throw Object.assign(new Error('nope'), { code: 'ENOENT' });
  return content;
};

test('no address: no configured Vault', (t) => {
  t.is(parseVaultConnectionSettings({}, readFile), undefined);
});

test('kubernetes auth is the default and needs a role', (t) => {
  const conn = parseVaultConnectionSettings(
    { VAULT_AUTOPILOT_VAULT_ADDR: 'https://vault:8200', VAULT_AUTOPILOT_VAULT_ROLE: 'operator', VAULT_AUTOPILOT_VAULT_CACERT: '/ca.pem' },
    readFile,
  );
  t.deepEqual(conn, {
    address: 'https://vault:8200',
    caCert: files['/ca.pem'],
    auth: { method: 'kubernetes', role: 'operator', mountPath: undefined, jwtFile: undefined },
    timeoutMs: undefined,
  });
  const err = t.throws(() => parseVaultConnectionSettings({ VAULT_AUTOPILOT_VAULT_ADDR: 'https://vault:8200' }, readFile));
  t.true(err instanceof SettingsError);
  t.regex(err!.message, /VAULT_AUTOPILOT_VAULT_ROLE/);
});

test('a token file selects token auth', (t) => {
  const conn = parseVaultConnectionSettings({ VAULT_AUTOPILOT_VAULT_ADDR: 'http://127.0.0.1:8200', VAULT_AUTOPILOT_VAULT_TOKEN_FILE: '/t' }, readFile);
  t.deepEqual(conn?.auth, { method: 'token', tokenFile: '/t' });
});

test('every problem is listed at once', (t) => {
  const err = t.throws(() =>
    parseVaultConnectionSettings(
      { VAULT_AUTOPILOT_VAULT_ADDR: 'not a url', VAULT_AUTOPILOT_VAULT_CACERT: '/missing.pem', VAULT_AUTOPILOT_VAULT_AUTH: 'ldap', VAULT_AUTOPILOT_VAULT_TIMEOUT_MS: '-1' },
      readFile,
    ),
  ) as SettingsError;
  t.is(err.problems.length, 4);
  t.regex(err.message, /ENOENT/);
  t.regex(err.message, /kubernetes or token/);
});
