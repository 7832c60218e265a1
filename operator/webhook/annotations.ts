// Pod annotations the webhook understands (names follow the Vault Agent
// Injector's where the meaning is the same) and their validation. Pure: a
// pod's annotations in, a typed request or a list of problems out.

import type { V1Pod } from '@kubernetes/client-node';

/** Annotation names without the prefix. */
export const PodAnnotation = {
  AgentInject: 'agent-inject',
  AgentInjectStatus: 'agent-inject-status',
  AgentPrePopulateOnly: 'agent-pre-populate-only',
  AgentInitFirst: 'agent-init-first',
  Role: 'role',
  AuthPath: 'auth-path',
  AgentRequestsCpu: 'agent-requests-cpu',
  AgentRequestsMem: 'agent-requests-mem',
  AgentLimitsCpu: 'agent-limits-cpu',
  AgentLimitsMem: 'agent-limits-mem',
  AgentImage: 'agent-image',
  Vault: 'vault',
  InjectEnv: 'inject-env',
} as const;

/** Annotation name prefixes followed by a file name under /vault/secrets. */
export const PodAnnotationFamily = {
  Secret: 'agent-inject-secret-',
  Template: 'agent-inject-template-',
} as const;

export const INJECTED = 'injected';

/** Name families the webhook owns under the prefix; an unknown member is a typo and is refused. */
const WEBHOOK_FAMILIES = ['agent-', 'inject-'] as const;

export interface VaultRef {
  namespace: string;
  name: string;
}

export interface SecretFile {
  /** File name under the secrets directory. */
  file: string;
  /** Vault path read by the default template. */
  path: string;
  /** Consul-template text; absent = the default template for `path`. */
  template?: string;
}

export interface AgentRequest {
  prePopulateOnly: boolean;
  initFirst: boolean;
  role?: string;
  authPath?: string;
  image?: string;
  resources: {
    requests: { cpu?: string; memory?: string };
    limits: { cpu?: string; memory?: string };
  };
  secrets: SecretFile[];
}

export interface InjectionRequest {
  /** Absent when agent injection was not asked for (or already done). */
  agent?: AgentRequest;
  agentAlreadyInjected: boolean;
  /** Names of containers (or init containers) that get VAULT_ADDR/VAULT_CACERT and the CA mount. */
  envContainers: string[];
  /** Target Vault from the `vault` annotation; absent = the operator's default. */
  vault?: VaultRef;
  warnings: string[];
}

export type ParsedAnnotations =
  | { kind: 'none' }
  | { kind: 'invalid'; problems: string[] }
  | { kind: 'inject'; request: InjectionRequest };

const BOOLEAN_VALUES = ['true', 'false'];
// A Kubernetes resource.Quantity, non-negative.
const QUANTITY = /^(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|[numkMGTPE]|Ki|Mi|Gi|Ti|Pi|Ei)?$/;
const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
// A Vault API path as read by `{{ with secret "<path>" }}`: no whitespace, quotes or template braces.
const VAULT_PATH = /^[^\s"{}\\/][^\s"{}\\]*$/;
const ROLE_NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]*$/;
const AUTH_PATH = /^(auth\/)?[A-Za-z0-9][A-Za-z0-9_.-]*(\/[A-Za-z0-9][A-Za-z0-9_.-]*)*\/?$/;
const IMAGE = /^[a-z0-9][a-z0-9._\-/:@]*$/i;
const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const CONTAINER_NAME = DNS_LABEL;

/** Every annotation key a pod may carry under the prefix, for "did you mean" messages. */
function acceptedNames(prefix: string): string {
  return [...Object.values(PodAnnotation), `${PodAnnotationFamily.Secret}<file>`, `${PodAnnotationFamily.Template}<file>`]
    .map((n) => prefix + n)
    .join(', ');
}

function containerNames(pod: V1Pod): string[] {
  return [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].map((c) => c.name);
}

/**
 * Reads the prefixed annotations of `pod`. `none` when the pod carries none
 * (nothing to do); `invalid` with one message per bad annotation, each naming
 * the annotation and what it accepts.
 */
export function parsePodAnnotations(pod: V1Pod, prefix: string, namespace: string = pod.metadata?.namespace ?? ''): ParsedAnnotations {
  const all = pod.metadata?.annotations ?? {};
  const known = new Set<string>(Object.values(PodAnnotation));
  // The prefix is shared with the rest of the operator (the Vault controller
  // puts config-checksum on its own pods): only known names and the agent-* /
  // inject-* families are the webhook's, everything else is someone else's.
  const ours = new Map<string, string>();
  for (const [key, value] of Object.entries(all)) {
    if (!key.startsWith(prefix)) continue;
    const suffix = key.slice(prefix.length);
    if (known.has(suffix) || WEBHOOK_FAMILIES.some((f) => suffix.startsWith(f))) ours.set(suffix, value);
  }
  if (ours.size === 0) return { kind: 'none' };

  const problems: string[] = [];
  const warnings: string[] = [];
  const name = (n: string): string => prefix + n;

  const bool = (key: string, fallback: boolean): boolean => {
    const value = ours.get(key);
    if (value === undefined) return fallback;
    if (!BOOLEAN_VALUES.includes(value)) {
      problems.push(`annotation ${name(key)}: ${JSON.stringify(value)} is not accepted; use "true" or "false"`);
      return fallback;
    }
    return value === 'true';
  };
  const matching = (key: string, pattern: RegExp, accepted: string): string | undefined => {
    const value = ours.get(key);
    if (value === undefined) return undefined;
    if (!pattern.test(value)) {
      problems.push(`annotation ${name(key)}: ${JSON.stringify(value)} is not accepted; expected ${accepted}`);
      return undefined;
    }
    return value;
  };

  // Unknown agent-* / inject-* keys are almost always typos; silently ignoring
  // them is the injector behaviour users complain about most.
  const secretPaths = new Map<string, string>();
  const templates = new Map<string, string>();
  for (const [key, value] of ours) {
    if (known.has(key)) continue;
    const family = key.startsWith(PodAnnotationFamily.Secret)
      ? PodAnnotationFamily.Secret
      : key.startsWith(PodAnnotationFamily.Template)
        ? PodAnnotationFamily.Template
        : undefined;
    if (!family) {
      problems.push(`annotation ${name(key)} is not known; accepted annotations are ${acceptedNames(prefix)}`);
      continue;
    }
    const file = key.slice(family.length);
    if (!FILE_NAME.test(file)) {
      problems.push(
        `annotation ${name(key)}: file name ${JSON.stringify(file)} is not accepted; expected letters, digits, ".", "_" or "-", starting with a letter or digit`,
      );
      continue;
    }
    if (family === PodAnnotationFamily.Secret) {
      if (!VAULT_PATH.test(value)) {
        problems.push(
          `annotation ${name(key)}: ${JSON.stringify(value)} is not a Vault path; expected e.g. "secret/data/app/config" (no leading "/", spaces, quotes or braces)`,
        );
        continue;
      }
      secretPaths.set(file, value);
    } else {
      if (value.trim() === '') {
        problems.push(`annotation ${name(key)}: the template is empty; give a Vault Agent (consul-template) template`);
        continue;
      }
      templates.set(file, value);
    }
  }
  for (const file of templates.keys()) {
    if (!secretPaths.has(file) && !problems.some((p) => p.includes(`${PodAnnotationFamily.Secret}${file}`))) {
      problems.push(
        `annotation ${name(PodAnnotationFamily.Template + file)} has no matching ${name(PodAnnotationFamily.Secret + file)}; a template renders the secret of the same file name`,
      );
    }
  }

  const inject = bool(PodAnnotation.AgentInject, false);
  const status = ours.get(PodAnnotation.AgentInjectStatus);
  if (status !== undefined && status !== INJECTED) {
    problems.push(`annotation ${name(PodAnnotation.AgentInjectStatus)}: ${JSON.stringify(status)} is not accepted; it is set by the webhook to "${INJECTED}"`);
  }
  const prePopulateOnly = bool(PodAnnotation.AgentPrePopulateOnly, false);
  const initFirst = bool(PodAnnotation.AgentInitFirst, true);
  const role = matching(PodAnnotation.Role, ROLE_NAME, 'a Vault role name (letters, digits, ".", "_", "-", "@")');
  const authPathRaw = matching(PodAnnotation.AuthPath, AUTH_PATH, 'an auth mount path such as "auth/kubernetes"');
  const authPath = authPathRaw === undefined ? undefined : normaliseAuthPath(authPathRaw);
  const quantity = (key: string): string | undefined => matching(key, QUANTITY, 'a Kubernetes quantity such as "250m", "1", "64Mi" or "1Gi"');
  const resources = {
    requests: { cpu: quantity(PodAnnotation.AgentRequestsCpu), memory: quantity(PodAnnotation.AgentRequestsMem) },
    limits: { cpu: quantity(PodAnnotation.AgentLimitsCpu), memory: quantity(PodAnnotation.AgentLimitsMem) },
  };
  const image = matching(PodAnnotation.AgentImage, IMAGE, 'an image reference such as "hashicorp/vault:1.21.4"');

  let vault: VaultRef | undefined;
  const vaultValue = ours.get(PodAnnotation.Vault);
  if (vaultValue !== undefined) {
    const parts = vaultValue.split('/');
    const [ns, vname] = parts.length === 2 ? parts : [namespace, parts[0]];
    if (parts.length > 2 || !vname || !DNS_LABEL.test(vname) || (parts.length === 2 && !DNS_LABEL.test(ns ?? ''))) {
      problems.push(`annotation ${name(PodAnnotation.Vault)}: ${JSON.stringify(vaultValue)} is not accepted; expected "<namespace>/<name>" of a Vault resource`);
    } else {
      vault = { namespace: ns ?? '', name: vname };
    }
  }

  const envContainers: string[] = [];
  const envValue = ours.get(PodAnnotation.InjectEnv);
  if (envValue !== undefined) {
    const names = envValue.split(',').map((s) => s.trim());
    const present = containerNames(pod);
    for (const n of names) {
      if (!CONTAINER_NAME.test(n)) {
        problems.push(`annotation ${name(PodAnnotation.InjectEnv)}: ${JSON.stringify(n)} is not a container name; expected a comma-separated list of the pod's containers (${present.join(', ')})`);
      } else if (!present.includes(n)) {
        problems.push(`annotation ${name(PodAnnotation.InjectEnv)}: the pod has no container ${JSON.stringify(n)}; its containers are ${present.join(', ') || '(none)'}`);
      } else if (!envContainers.includes(n)) envContainers.push(n);
    }
  }

  const agentSettingKeys = [...ours.keys()].filter(
    (k) =>
      k !== PodAnnotation.AgentInject &&
      k !== PodAnnotation.Vault &&
      k !== PodAnnotation.InjectEnv &&
      k !== PodAnnotation.AgentInjectStatus,
  );
  if (inject && secretPaths.size === 0) {
    problems.push(`annotation ${name(PodAnnotation.AgentInject)} is "true" but no ${name(PodAnnotationFamily.Secret)}<file> annotation says what to render`);
  }
  if (!inject && agentSettingKeys.length > 0) {
    warnings.push(
      `${agentSettingKeys.map(name).join(', ')} ignored: ${name(PodAnnotation.AgentInject)} is not "true"`,
    );
  }

  if (problems.length > 0) return { kind: 'invalid', problems };

  const alreadyInjected = status === INJECTED;
  const wantsAgent = inject && !alreadyInjected;
  const secrets: SecretFile[] = [...secretPaths.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([file, path]) => (templates.has(file) ? { file, path, template: templates.get(file)! } : { file, path }));
  return {
    kind: 'inject',
    request: {
      agent: wantsAgent ? { prePopulateOnly, initFirst, role, authPath, image, resources, secrets } : undefined,
      agentAlreadyInjected: alreadyInjected,
      envContainers,
      vault,
      warnings,
    },
  };
}

/** "kubernetes", "auth/kubernetes/", "auth/kubernetes" -> "auth/kubernetes". */
export function normaliseAuthPath(path: string): string {
  const trimmed = path.replace(/\/+$/, '');
  return trimmed.startsWith('auth/') ? trimmed : `auth/${trimmed}`;
}
