// The dev Vault of the harness answers with the root token and gives each
// test file its own KV mounts.
import test from 'ava';
import { useTestEnv } from '../../harness/index.js';

const env = useTestEnv(test);

async function vault(method: string, path: string, body?: unknown, token = env().vault.rootToken) {
  const res = await fetch(`${env().vault.address}/v1/${path}`, {
    method,
    headers: { 'x-vault-token': token, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as Record<string, any>) : {} };
}

test('is initialised and unsealed', async (t) => {
  const health = await vault('GET', 'sys/health');
  t.is(health.status, 200);
  t.is(health.json.initialized, true);
  t.is(health.json.sealed, false);
  t.regex(String(health.json.version), /^\d+\.\d+\.\d+/);
});

test('writes and reads KV v2 with the root token', async (t) => {
  const mount = await env().vaultMount('kv-v2');
  const written = await vault('POST', `${mount}/data/app/config`, { data: { password: 'hunter2' } });
  t.is(written.status, 200);
  const read = await vault('GET', `${mount}/data/app/config`);
  t.is(read.status, 200);
  t.is(read.json.data.data.password, 'hunter2');
  t.is(read.json.data.metadata.version, 1);
});

test('writes and reads KV v1 with the root token', async (t) => {
  const mount = await env().vaultMount('kv-v1');
  t.is((await vault('POST', `${mount}/app`, { user: 'alice' })).status, 204);
  const read = await vault('GET', `${mount}/app`);
  t.is(read.json.data.user, 'alice');
  const mounts = await vault('GET', 'sys/mounts');
  t.is(mounts.json.data[`${mount}/`].options.version, '1');
});

test('mounts of one test file are unique', async (t) => {
  const a = await env().vaultMount('kv-v2');
  const b = await env().vaultMount('kv-v2');
  t.not(a, b);
});

test('refuses a wrong token', async (t) => {
  const res = await vault('GET', 'sys/mounts', undefined, 'not-the-root-token');
  t.is(res.status, 403);
});
