// Stand-alone entry of the user CLI (`node operator/cli/main.ts seal ...`);
// the vault-autopilot binary reaches the same runCli() from operator/main.ts.
import { runCli } from './index.js';

process.exitCode = await runCli(process.argv.slice(2));
