// Preloaded into the operator by the memory benchmark (node --import): on
// SIGUSR2 it runs a full GC when exposed and writes the process's memory
// figures as JSON to $BENCH_PROBE_OUT; with BENCH_PROBE_SNAPSHOT=1 also a
// heap snapshot next to it. Never part of the image.
import { writeFileSync } from 'node:fs';
import v8 from 'node:v8';

const out = process.env.BENCH_PROBE_OUT;
if (out) {
  process.on('SIGUSR2', () => {
    globalThis.gc?.();
    const spaces = Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, { size: s.space_size, used: s.space_used_size }]));
    const snapshot = process.env.BENCH_PROBE_SNAPSHOT === '1' ? v8.writeHeapSnapshot(`${out}.heapsnapshot`) : undefined;
    writeFileSync(out, JSON.stringify({ memory: process.memoryUsage(), spaces, snapshot }));
  });
}
