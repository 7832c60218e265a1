// Small helpers the framework integration tests share to create, patch and read Widgets.
import { CoreV1Api, CustomObjectsApi, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { WIDGET, type Widget } from './fixtures/widget-controller.js';

export function widgets(kubeConfig: KubeConfig, namespace: string) {
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const base = { group: WIDGET.group, version: WIDGET.version, plural: WIDGET.plural, namespace };
  return {
    create: (name: string, spec: Widget['spec']) =>
      custom.createNamespacedCustomObject({ ...base, body: { apiVersion: `${WIDGET.group}/${WIDGET.version}`, kind: WIDGET.kind, metadata: { name }, spec } }) as Promise<Widget>,
    get: (name: string) => custom.getNamespacedCustomObject({ ...base, name }) as Promise<Widget>,
    patchSpec: (name: string, spec: Widget['spec']) =>
      custom.patchNamespacedCustomObject({ ...base, name, body: { spec } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch)) as Promise<Widget>,
    delete: (name: string) => custom.deleteNamespacedCustomObject({ ...base, name }),
    events: async (name: string) => (await core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${name}` })).items,
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
