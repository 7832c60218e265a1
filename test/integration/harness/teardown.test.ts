// startOperatorProcess, and the guarantee that servers die with the process
// that started them — even when that process is SIGKILLed.
import test from 'ava';
import { existsSync } from 'node:fs';
import { eventually, WITHIN, startOperatorProcess } from '../../harness/index.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('startOperatorProcess passes env and args, captures stdout and stderr, and reports the exit code', async (t) => {
  const child = await startOperatorProcess({
    entry: 'test/integration/harness/fixtures/print-env-and-wait.ts',
    env: { KUBECONFIG: '/tmp/some-kubeconfig' },
    args: ['--one', '--two'],
  });
  await child.waitForOutput(/started kubeconfig=\/tmp\/some-kubeconfig args=--one,--two/);
  await child.waitForOutput(/a line on stderr/);
  t.is(await child.kill('SIGTERM'), 0);
  t.regex(child.output(), /stopping on SIGTERM/);
});

test('waitForOutput rejects when the process exits without printing the pattern', async (t) => {
  const child = await startOperatorProcess({ entry: 'test/integration/harness/fixtures/print-env-and-wait.ts' });
  await child.waitForOutput(/started/);
  const waiting = child.waitForOutput(/never printed/, WITHIN.start.timeoutMs); // outlasts kill()'s 15 s SIGKILL grace
  await child.kill('SIGTERM');
  await t.throwsAsync(waiting, { message: /exited/ });
});

test('servers and their temp dir are removed when their owner is SIGKILLed', async (t) => {
  const owner = await startOperatorProcess({ entry: 'test/integration/harness/fixtures/start-servers-and-hang.ts' });
  await owner.waitForOutput(/servers up/, WITHIN.start.timeoutMs);
  const match = /servers up pids=([\d,]+) dir=(\S+)/.exec(owner.output())!;
  const pids = match[1]!.split(',').map(Number);
  const dir = match[2]!;
  t.true(pids.length > 0 && pids.every(alive));
  t.true(existsSync(dir));

  await owner.kill('SIGKILL');
  await eventually(
    async () => {
      if (pids.some(alive)) throw new Error(`still running: ${pids.filter(alive).join(',')}`);
      if (existsSync(dir)) throw new Error(`${dir} still exists`);
    },
    { ...WITHIN.server, message: 'reaper did not clean up' },
  );
  t.pass();
});
