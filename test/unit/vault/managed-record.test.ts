import test from 'ava';
import { nextRecord, sameRecord, union } from '../../../operator/vault/managed-record.js';
import type { Change } from '../../../operator/vault/config-plan.js';

const change = (concern: Change['concern'], action: Change['action'], id: string): Change => ({ concern, action, id, writes: [], summary: '' });

test('the record becomes what is desired', (t) => {
  const record = nextRecord({ policies: ['old'] }, { policies: ['b', 'a'], roles: [] }, [], { applied: [], failed: [] });
  t.deepEqual(record, { policies: ['a', 'b'] });
});

test('a failed removal stays in the record so it is retried', (t) => {
  const record = nextRecord({ policies: ['old'] }, { policies: ['a'] }, [], { applied: [], failed: [{ change: change('policy', 'delete', 'old'), error: 'x' }] });
  t.deepEqual(record.policies, ['a', 'old']);
});

test('an entry with a problem is not claimed unless it was managed before', (t) => {
  const problems = [
    { concern: 'auth' as const, id: 'taken', message: '' },
    { concern: 'auth' as const, id: 'mine', message: '' },
  ];
  const record = nextRecord({ auth: ['mine'] }, { auth: ['taken', 'mine', 'ok'] }, problems, { applied: [], failed: [] });
  t.deepEqual(record.auth, ['mine', 'ok']);
});

test('union and comparison ignore order and empty lists', (t) => {
  t.deepEqual(union({ policies: ['a'] }, { policies: ['b'], auth: ['k'] }), { policies: ['a', 'b'], auth: ['k'] });
  t.true(sameRecord({ policies: ['b', 'a'], roles: [] }, { policies: ['a', 'b'] }));
  t.false(sameRecord({ policies: ['a'] }, { policies: ['a', 'b'] }));
});
