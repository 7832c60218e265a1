// watchedSecretsLabels / Annotations: which Secrets are watched, and a checksum that moves with their versions only.
import test from 'ava';
import type { V1Secret } from '@kubernetes/client-node';
import type { VaultSpec } from '../../../../operator/api/vault.js';
import { isWatched, watchedSecretsChecksum } from '../../../../operator/controllers/vault/watched-secrets.js';

const secret = (name: string, rv: string, labels: Record<string, string> = {}, annotations: Record<string, string> = {}): V1Secret => ({
  metadata: { name, uid: `uid-${name}`, resourceVersion: rv, labels, annotations },
  data: { password: Buffer.from('hunter2').toString('base64') },
});
const spec: VaultSpec = { watchedSecretsLabels: [{ app: 'vault', tier: 'creds' }, { restart: 'vault' }], watchedSecretsAnnotations: [{ 'vault.example/watch': 'true' }] };

test('a Secret is watched when one label set matches fully, or one annotation set', (t) => {
  t.true(isWatched(spec, secret('a', '1', { app: 'vault', tier: 'creds', x: 'y' })));
  t.false(isWatched(spec, secret('b', '1', { app: 'vault' })), 'a set matches only as a whole');
  t.true(isWatched(spec, secret('c', '1', { restart: 'vault' })));
  t.true(isWatched(spec, secret('d', '1', {}, { 'vault.example/watch': 'true' })));
  t.false(isWatched({}, secret('e', '1', { restart: 'vault' })));
});

test('the checksum changes with a watched Secret version, not with unwatched ones or order, and holds no data', (t) => {
  const watched = secret('a', '10', { restart: 'vault' });
  const other = secret('z', '5');
  const sum = watchedSecretsChecksum(spec, [watched, other])!;
  t.regex(sum, /^[0-9a-f]{16}$/);
  t.is(watchedSecretsChecksum(spec, [other, watched]), sum);
  t.is(watchedSecretsChecksum(spec, [watched, secret('z', '6')]), sum);
  t.not(watchedSecretsChecksum(spec, [secret('a', '11', { restart: 'vault' }), other]), sum);
  t.is(watchedSecretsChecksum(spec, [other]), undefined);
});
