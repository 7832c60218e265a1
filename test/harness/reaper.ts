// A watchdog that outlives its parent by design: the parent tells it (on
// stdin) which process groups and directories it owns; when stdin closes —
// the parent exited, crashed, or was SIGKILLed by a test-runner timeout — it
// kills those groups and removes those directories. Run as
// `node --import=tsx test/harness/reaper.ts`, detached, by proc.ts.
import { rmSync } from 'node:fs';

const groups = new Set<number>();
const dirs = new Set<string>();

// A Ctrl-C reaches the terminal's whole foreground group; the reaper must
// survive it to clean up after the parent.
process.on('SIGINT', () => undefined);
process.on('SIGHUP', () => undefined);

function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false; // already gone
  }
}

async function reap(): Promise<void> {
  const alive = [...groups].filter((pgid) => signalGroup(pgid, 'SIGTERM'));
  const deadline = Date.now() + 5000;
  while (alive.some((pgid) => signalGroup(pgid, 0)) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
  }
  for (const pgid of alive) signalGroup(pgid, 'SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}

let buffered = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk: string) => {
  buffered += chunk;
  let newline: number;
  while ((newline = buffered.indexOf('\n')) >= 0) {
    const line = buffered.slice(0, newline);
    buffered = buffered.slice(newline + 1);
    const [op, ...rest] = line.split(' ');
    const arg = rest.join(' ');
    if (op === '+pg') groups.add(Number(arg));
    else if (op === '-pg') groups.delete(Number(arg));
    else if (op === '+dir') dirs.add(arg);
    else if (op === '-dir') dirs.delete(arg);
  }
});
process.stdin.on('end', () => void reap());
process.stdin.on('error', () => void reap());
