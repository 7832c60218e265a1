// The KMSVaultSecret lifecycle: what main.ts wires.
export { KmsVaultSecretController, registerKmsVaultSecretController, type KmsVaultSecretDeps } from './controller.js';
export {
  defaultKmsVaultSecretSettings,
  KmsVaultSecretSettingsEnv,
  parseKmsVaultSecretSettings,
  PathPolicy,
  type KmsVaultSecretSettings,
} from './settings.js';
