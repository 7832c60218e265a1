// operator/deploy/image/narrow-client.ts: the bundle keeps only the generated
// client-node API methods the operator's code names.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { callerWords, clientNodeNarrowing, modelsToKeep, NARROWED_FILES, withoutUnusedMethods, wordsOf } from '../../../operator/deploy/image/narrow-client.js';
import { REPO_ROOT } from '../../../operator/deploy/generate.js';

const API = `import { X } from './x.js';
export class PetApiRequestFactory extends X {
    /**
     * read a pet
     */
    async readPet(name, _options) {
        return name;
    }
    /**
     * delete a pet
     */
    async deletePet(name, _options) {
        return name;
    }
}
export class ObservablePetApi {
    constructor(configuration) {
        this.configuration = configuration;
    }
    readPetWithHttpInfo(_options) { return 1; }
    readPet(_options) { return this.readPetWithHttpInfo(_options); }
    deletePetWithHttpInfo(_options) { return 2; }
    deletePet(_options) { return 3; }
}
`;

test('methods the callers name stay (also as ...WithHttpInfo), the others and their doc comments go, constructors stay', async (t) => {
  const { code, removed } = withoutUnusedMethods(API, wordsOf(['await api.readPet({ name })']));
  t.deepEqual(removed, ['PetApiRequestFactory.deletePet', 'ObservablePetApi.deletePetWithHttpInfo', 'ObservablePetApi.deletePet']);
  t.false(code.includes('deletePet') || code.includes('delete a pet'));
  t.true(code.includes('read a pet'));
  // what is left still runs: a module whose classes answer the kept calls
  const mod = (await import(`data:text/javascript,${encodeURIComponent(code.replace(/^import .*$/m, 'class X {}'))}`)) as Record<string, new (c?: unknown) => Record<string, (...a: unknown[]) => unknown>>;
  t.is(await mod.PetApiRequestFactory!.prototype.readPet!('rex'), 'rex');
  const observable = new mod.ObservablePetApi!('conf');
  t.is(observable.configuration as unknown, 'conf');
  t.is(observable.readPet!(), 1);
  t.false('deletePet' in observable);
});

test('nothing the callers name is narrowed away: a word in a comment or string keeps a method too', (t) => {
  const { removed } = withoutUnusedMethods(API, wordsOf(['// deletePet is called by name here', "'readPet'"]));
  t.deepEqual(removed, []);
});

test("the real generated CoreV1Api keeps every method the operator's code calls, and drops the rest", (t) => {
  const path = join(REPO_ROOT, 'node_modules/@kubernetes/client-node/dist/gen/apis/CoreV1Api.js');
  t.regex(path, NARROWED_FILES);
  const words = callerWords(REPO_ROOT);
  const { code, removed } = withoutUnusedMethods(readFileSync(path, 'utf8'), words);
  for (const called of ['readNamespacedSecret', 'replaceNamespacedConfigMap', 'createNamespacedConfigMap']) {
    t.true(words.has(called), `${called} is named by the operator`);
    t.regex(code, new RegExp(`async ${called}\\(`), `${called} stays in the request factory`);
    t.regex(code, new RegExp(`async ${called}WithHttpInfo\\(`), `${called}WithHttpInfo stays in the response processor`);
  }
  t.true(removed.includes('CoreV1ApiRequestFactory.connectDeleteNamespacedPodProxy'), 'an API the operator never calls is dropped');
  t.true(code.length < readFileSync(path, 'utf8').length / 4, `CoreV1Api narrowed to ${code.length} bytes`);
});

test('models: the named ones, every version of a named kind, and all they refer to', (t) => {
  const sources: Record<string, string> = {
    V1Pod: 'attributeTypeMap = [{ "type": "V1PodSpec" }]',
    V1PodSpec: 'attributeTypeMap = [{ "type": "Array<V1Container>" }]',
    V1Container: '',
    V1StatefulSet: '',
    V1beta1StatefulSet: '',
    V1Node: '',
  };
  const keep = modelsToKeep(Object.keys(sources), wordsOf(["kind: 'StatefulSet'", 'type V1Pod']), (m) => sources[m]!);
  t.deepEqual([...keep].sort(), ['V1Container', 'V1Pod', 'V1PodSpec', 'V1StatefulSet', 'V1beta1StatefulSet']);
});

test('the real client-node: what the operator reads and writes keeps its model, a kind it never names does not', (t) => {
  const { models } = clientNodeNarrowing(REPO_ROOT);
  // read/written by the operator (through typed APIs or KubernetesObjectApi), and a list's continue token
  for (const m of ['V1Secret', 'V1ConfigMap', 'V1StatefulSet', 'V1Service', 'V1Lease', 'V1MutatingWebhookConfiguration', 'V1ObjectMeta', 'V1ListMeta', 'V1PodSpec']) {
    t.true(models.has(m), `${m} kept`);
  }
  t.false(models.has('V1CSIDriver'), 'a kind the operator never touches is dropped');
  t.true(models.size < 400, `${models.size} models kept`);
});
