// Vault Agent configuration for an injected pod, rendered as the JSON form of
// Vault's HCL config (Vault Agent reads both). Pure data; carries no secrets —
// only the Vault address, the role name and templates.

import type { SecretFile } from './annotations.js';

export interface AgentConfigInput {
  vaultAddress: string;
  /** Path of the CA bundle inside the agent container; absent for plain-HTTP Vaults. */
  caCertPath?: string;
  role: string;
  /** Kubernetes auth mount, e.g. `auth/kubernetes`. */
  authPath: string;
  /** ServiceAccount token the agent logs in with. */
  tokenPath: string;
  secretsDir: string;
  /** Writable directory for the token sink and pid file. */
  homeDir: string;
  secrets: SecretFile[];
  /** true for the init container: render once and exit. */
  exitAfterAuth: boolean;
}

export interface AgentConfig {
  auto_auth: {
    method: Array<{ type: 'kubernetes'; mount_path: string; config: { role: string; token_path: string } }>;
    sink: Array<{ type: 'file'; config: { path: string } }>;
  };
  exit_after_auth: boolean;
  pid_file: string;
  vault: { address: string; ca_cert?: string };
  template: Array<{ destination: string; contents: string; left_delimiter: string; right_delimiter: string }>;
  template_config: { exit_on_retry_failure: boolean };
}

/**
 * Renders every field of the secret, one `key: value` per line (the Vault
 * Agent Injector's default). A KV v2 read answers `{data: {...}, metadata:
 * {...}}`: the fields are under `.Data.data`, so that shape is unwrapped at
 * render time (the path alone cannot tell a v2 mount from a v1 one).
 */
export function defaultTemplate(path: string): string {
  return (
    `{{ with secret "${path}" }}{{ $fields := .Data }}` +
    '{{ if and .Data.data .Data.metadata }}{{ $fields = .Data.data }}{{ end }}' +
    '{{ range $k, $v := $fields }}{{ $k }}: {{ $v }}\n{{ end }}{{ end }}'
  );
}

export function renderAgentConfig(input: AgentConfigInput): AgentConfig {
  return {
    auto_auth: {
      method: [{ type: 'kubernetes', mount_path: input.authPath, config: { role: input.role, token_path: input.tokenPath } }],
      sink: [{ type: 'file', config: { path: `${input.homeDir}/.vault-token` } }],
    },
    exit_after_auth: input.exitAfterAuth,
    pid_file: `${input.homeDir}/.pid`,
    vault: input.caCertPath ? { address: input.vaultAddress, ca_cert: input.caCertPath } : { address: input.vaultAddress },
    template: input.secrets.map((s) => ({
      destination: `${input.secretsDir}/${s.file}`,
      contents: s.template ?? defaultTemplate(s.path),
      left_delimiter: '{{',
      right_delimiter: '}}',
    })),
    // A failing render must fail the container (init: the pod does not start
    // half-configured; sidecar: it restarts) instead of retrying silently.
    template_config: { exit_on_retry_failure: true },
  };
}

/** The config as the container receives it (env VAULT_CONFIG, base64 of the JSON). */
export function encodeAgentConfig(config: AgentConfig): string {
  return Buffer.from(JSON.stringify(config), 'utf8').toString('base64');
}
