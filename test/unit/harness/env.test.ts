import test from 'ava';
import { uniqueName } from '../../harness/env.js';
import { deletableCollections } from '../../harness/kube-cleanup.js';

test('uniqueName makes a DNS label from any prefix', (t) => {
  t.is(uniqueName('My Test_File', 'abc123'), 'my-test-file-abc123');
  t.is(uniqueName('---', 'abc123'), 'test-abc123');
  const long = uniqueName('x'.repeat(100), 'abc123');
  t.true(long.length <= 63);
  t.regex(long, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
  t.true(long.endsWith('-abc123'));
});

test('deletableCollections keeps namespaced, listable, deletable top-level resources', (t) => {
  const resources = [
    { name: 'configmaps', namespaced: true, verbs: ['list', 'deletecollection', 'get'] },
    { name: 'pods/status', namespaced: true, verbs: ['get', 'list', 'deletecollection'] },
    { name: 'namespaces', namespaced: false, verbs: ['list', 'deletecollection'] },
    { name: 'bindings', namespaced: true, verbs: ['create'] },
  ];
  t.deepEqual(deletableCollections('v1', resources), ['/api/v1/namespaces/{ns}/configmaps']);
  t.deepEqual(deletableCollections('apps/v1', [{ name: 'deployments', namespaced: true, verbs: ['list', 'deletecollection'] }]), [
    '/apis/apps/v1/namespaces/{ns}/deployments',
  ]);
});
