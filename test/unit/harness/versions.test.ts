import test from 'ava';
import { parseShellAssignments, pinnedVersions } from '../../harness/versions.js';

test('parseShellAssignments reads NAME=value lines and ignores the rest', (t) => {
  const vars = parseShellAssignments('#!/bin/bash\nA_VERSION=v1.2.3\n  INDENTED=x\nB="quoted" # note\nlocal c=1\n');
  t.is(vars.get('A_VERSION'), 'v1.2.3');
  t.is(vars.get('B'), 'quoted');
  t.false(vars.has('INDENTED'));
  t.false(vars.has('c'));
});

test('pinnedVersions maps each server to its variable', (t) => {
  const script = 'ETCD_VERSION=v3.9.9\nKUBE_VERSION=v1.99.0\nVAULT_VERSION=v1.0.0  # x\nLOCAL_KMS_VERSION=v0.0.0-1\n';
  t.deepEqual(pinnedVersions(script), { etcd: 'v3.9.9', 'kube-apiserver': 'v1.99.0', vault: 'v1.0.0', 'local-kms': 'v0.0.0-1' });
});

test('pinnedVersions fails when a pin is missing', (t) => {
  t.throws(() => pinnedVersions('ETCD_VERSION=v3.9.9\n'), { message: /KUBE_VERSION/ });
});

test('the real build script pins every server', (t) => {
  const versions = pinnedVersions();
  t.regex(versions.etcd, /^v3\./);
  t.regex(versions['kube-apiserver'], /^v1\.\d+\.\d+$/);
  t.regex(versions.vault, /^v1\./);
  t.regex(versions['local-kms'], /^v0\.0\.0-/);
});
