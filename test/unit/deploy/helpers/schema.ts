// JSON-schema validation of Kubernetes objects against a CRD's openAPIV3Schema
// with ajv: strict off (x-kubernetes-* keywords are ignored, CEL rules are not
// evaluated), the formats Kubernetes uses added.
import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import yaml from 'js-yaml';

export function kubernetesAjv(): Ajv {
  const ajv = new Ajv({ strict: false, allErrors: true });
  ajv.addFormat('int32', { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31 });
  ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isInteger(n) });
  ajv.addFormat('byte', /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/);
  ajv.addFormat('date-time', (s: string) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(s) && !Number.isNaN(Date.parse(s)));
  return ajv;
}

interface CrdLike {
  spec: { versions: { name: string; storage?: boolean; schema?: { openAPIV3Schema?: object } }[] };
}

/** The validator of a CRD's storage version schema. */
export function crdValidator(ajv: Ajv, crd: CrdLike): ValidateFunction {
  const version = crd.spec.versions.find((v) => v.storage) ?? crd.spec.versions[0];
  const schema = version?.schema?.openAPIV3Schema;
  if (!schema) throw new Error('CRD without a schema');
  return ajv.compile(schema);
}

export function readCrdFile(path: string): CrdLike {
  return yaml.load(readFileSync(path, 'utf8')) as CrdLike;
}

export function errorsText(validate: ValidateFunction): string {
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`).join('\n');
}
