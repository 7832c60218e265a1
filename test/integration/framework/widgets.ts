// Small helpers the framework integration tests share to create, patch and read Widgets.
import { CoreV1Api, CustomObjectsApi, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { eventually } from '../../harness/index.js';
import { WIDGET, WIDGET_CRD_FILE, type Widget } from './fixtures/widget-controller.js';

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

/**
 * Applies the Widget CRD. Several test files may do so at once against the
 * shared apiserver (a concurrent replace is a 409): retry until it sticks.
 */
export async function applyWidgetCrd(env: { applyCrds(...files: string[]): Promise<void> }): Promise<void> {
  await eventually(() => env.applyCrds(WIDGET_CRD_FILE), { timeoutMs: 60_000, intervalMs: 500, message: 'apply the Widget CRD' });
}
