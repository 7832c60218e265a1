import type { InstallSettings } from './install-settings.js';
import { NAME } from './install-settings.js';

/** Recommended labels (app.kubernetes.io/*) on every object the install creates. */
export function commonLabels(settings: Pick<InstallSettings, 'version'>): Record<string, string> {
  return {
    'app.kubernetes.io/name': NAME.app,
    'app.kubernetes.io/version': settings.version,
    'app.kubernetes.io/part-of': NAME.app,
  };
}

/** Stable across versions: a Deployment's selector is immutable. */
export function selectorLabels(): Record<string, string> {
  return { 'app.kubernetes.io/name': NAME.app, 'app.kubernetes.io/component': 'operator' };
}
