// OLM spec/status descriptors derived from a CRD's openAPIV3Schema, so the
// console's forms and the CSV never disagree with crds/. Pure.

import type { V1CustomResourceDefinition } from '@kubernetes/client-node';

/**
 * The part of a CRD schema read here, as YAML spells it (client-node's
 * JsonSchema renames `enum` to `_enum`, which parsed YAML does not).
 */
export interface JsonSchema {
  type?: string;
  description?: string;
  enum?: unknown[];
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
}

export interface Descriptor {
  path: string;
  displayName: string;
  description: string;
  'x-descriptors'?: string[];
}

const UI = 'urn:alm:descriptor:com.tectonic.ui';
const CONDITIONS = 'urn:alm:descriptor:io.kubernetes.conditions';
const ACRONYMS: Record<string, string> = {
  kms: 'KMS', kv: 'KV', tls: 'TLS', ca: 'CA', id: 'ID', ids: 'IDs', url: 'URL', ttl: 'TTL', api: 'API', pdb: 'PDB', aws: 'AWS', jwt: 'JWT',
};
/** How deep into spec/status descriptors go: `kvSettings.engineVersion` yes, deeper no. */
const MAX_DEPTH = 2;
const MAX_DESCRIPTION = 300;
/** spec fields the operator writes itself (the ServiceAccount lifecycle's entries): hidden in the console's forms. */
const OPERATOR_WRITTEN = new Set(['serviceAccountRoles']);

/** "KMSVaultSecret" -> "KMS Vault Secret", "kvSettings" -> "KV Settings". */
export function humanize(identifier: string): string {
  const words = identifier.match(/[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+/g) ?? [identifier];
  return words
    .map((w) => ACRONYMS[w.toLowerCase()] ?? (w === w.toUpperCase() ? w : w[0]!.toUpperCase() + w.slice(1)))
    .join(' ');
}

/** The schema description as one line, cut at a sentence end when it is long. */
export function shortDescription(text: string | undefined, fallback: string): string {
  const flat = (text ?? '').replace(/\s+/g, ' ').trim();
  if (!flat) return fallback;
  if (flat.length <= MAX_DESCRIPTION) return flat;
  const cut = flat.slice(0, MAX_DESCRIPTION);
  const sentenceEnd = cut.lastIndexOf('. ');
  return sentenceEnd > 40 ? cut.slice(0, sentenceEnd + 1) : `${cut.slice(0, MAX_DESCRIPTION - 3).trimEnd()}...`;
}

function xDescriptors(name: string, schema: JsonSchema, parent: string | undefined, status: boolean): string[] | undefined {
  if (status) return name === 'conditions' && !parent ? [CONDITIONS] : undefined;
  const found: string[] = [];
  if (parent) found.push(`${UI}:fieldGroup:${parent}`);
  if (schema.type === 'boolean') found.push(`${UI}:booleanSwitch`);
  else if (schema.type === 'integer' || schema.type === 'number') found.push(`${UI}:number`);
  else if (schema.type === 'string' && schema.enum?.length) found.push(...schema.enum.map((v) => `${UI}:select:${String(v)}`));
  else if (schema.type === 'string') found.push(`${UI}:text`);
  else if (schema.type === 'object' || schema.type === 'array') found.push(`${UI}:advanced`);
  return found.length ? found : undefined;
}

function walk(props: Record<string, JsonSchema> | undefined, prefix: string, depth: number, status: boolean): Descriptor[] {
  if (!props) return [];
  return Object.entries(props).flatMap(([name, schema]) => {
    const path = prefix ? `${prefix}.${name}` : name;
    const hidden = !status && !prefix && OPERATOR_WRITTEN.has(name);
    const x = hidden ? [`${UI}:hidden`] : xDescriptors(name, schema, prefix || undefined, status);
    const own: Descriptor = {
      path,
      displayName: humanize(name),
      description: shortDescription(schema.description, humanize(name)),
      ...(x ? { 'x-descriptors': x } : {}),
    };
    const children = depth < MAX_DEPTH && schema.type === 'object' && !hidden ? walk(schema.properties, path, depth + 1, status) : [];
    return [own, ...children];
  });
}

export function storageVersion(crd: V1CustomResourceDefinition) {
  const version = crd.spec.versions.find((v) => v.storage) ?? crd.spec.versions[0];
  if (!version) throw new Error(`CRD ${crd.metadata?.name} has no versions`);
  return version;
}

export function rootSchema(crd: V1CustomResourceDefinition): JsonSchema {
  return (storageVersion(crd).schema?.openAPIV3Schema ?? {}) as JsonSchema;
}

export function specDescriptors(crd: V1CustomResourceDefinition): Descriptor[] {
  return walk(rootSchema(crd).properties?.['spec']?.properties, '', 1, false);
}

export function statusDescriptors(crd: V1CustomResourceDefinition): Descriptor[] {
  return walk(rootSchema(crd).properties?.['status']?.properties, '', 1, true);
}
