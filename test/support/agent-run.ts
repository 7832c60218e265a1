// Runs the Vault Agent init container the webhook injects, outside a cluster:
// its config is taken out of the mutated pod, container paths are remapped to
// a temporary directory, the kubelet's projected token is a TokenRequest token
// from the real apiserver, and the container's own command line (sh, base64,
// vault agent) runs with the real `vault` binary. Returns the rendered files.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import type { AgentConfig } from '../../operator/webhook/agent-config.js';
import { INJECTED_NAMES } from '../../operator/webhook/mutate.js';
import { binaryPath } from '../harness/versions.js';
import { WITHIN } from '../harness/eventually.js';

export interface AgentRun {
  code: number | null;
  /** what the agent printed (for assertions that no secret shows) */
  output: string;
  /** rendered file name -> content */
  files: Map<string, string>;
}

export async function runInjectedAgent(mutated: V1Pod, serviceAccountToken: string): Promise<AgentRun> {
  const dir = mkdtempSync(join(tmpdir(), 'agent-run-'));
  try {
    const init = mutated.spec?.initContainers?.find((c) => c.name === INJECTED_NAMES.initContainer);
    const encoded = init?.env?.find((e) => e.name === 'VAULT_CONFIG')?.value;
    if (!init?.command || !encoded) throw new Error('the pod has no injected agent init container');
    const config = JSON.parse(Buffer.from(encoded, 'base64').toString()) as AgentConfig;
    writeFileSync(join(dir, 'token'), serviceAccountToken, { mode: 0o600 });
    mkdirSync(join(dir, 'home'));
    mkdirSync(join(dir, 'secrets'));
    const remap = (p: string): string =>
      p.replace(`${INJECTED_NAMES.tokenDir}/`, `${dir}/`).replace(`${INJECTED_NAMES.secretsDir}/`, `${dir}/secrets/`).replace(`${INJECTED_NAMES.homeDir}/`, `${dir}/home/`);
    config.auto_auth.method[0]!.config.token_path = remap(config.auto_auth.method[0]!.config.token_path);
    config.auto_auth.sink[0]!.config.path = remap(config.auto_auth.sink[0]!.config.path);
    config.pid_file = remap(config.pid_file);
    for (const tpl of config.template) tpl.destination = remap(tpl.destination);
    const binDir = join(dir, 'bin');
    mkdirSync(binDir);
    if (!existsSync(join(binDir, 'vault'))) symlinkSync(binaryPath('vault'), join(binDir, 'vault'));
    const [shell, ...args] = init.command.map((a) => a.replaceAll(INJECTED_NAMES.homeDir, join(dir, 'home')));
    const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve) => {
      const child = spawn(shell!, args, { env: { PATH: `${binDir}:/usr/bin:/bin`, VAULT_CONFIG: Buffer.from(JSON.stringify(config)).toString('base64') } });
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr.on('data', (c: Buffer) => (out += c.toString()));
      // a hang guard, not a wait: the init agent exits by itself once it rendered (a killed one leaves code null, which fails)
      const timer = setTimeout(() => child.kill('SIGKILL'), WITHIN.start.timeoutMs);
      child.on('exit', (exit) => {
        clearTimeout(timer);
        resolve({ code: exit, output: out });
      });
    });
    const files = new Map(readdirSync(join(dir, 'secrets')).map((f) => [f, readFileSync(join(dir, 'secrets', f), 'utf8')]));
    return { code, output, files };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
