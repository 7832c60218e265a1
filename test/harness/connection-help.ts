// Pure: the "how to connect" text printed by `make test-env` and `make demo`.
import type { ConnectionInfo } from './env.js';

export interface HelpInput {
  info: ConnectionInfo;
  vaultBinary: string;
  /** Whether `kubectl` is on PATH. */
  hasKubectl: boolean;
  /** Whether the AWS CLI is on PATH. */
  hasAws: boolean;
  /** Where the connection JSON was written, if anywhere. */
  infoFile?: string;
}

export function connectionHelp({ info, vaultBinary, hasKubectl, hasAws, infoFile }: HelpInput): string {
  const lines: string[] = [];
  if (info.kubeconfigPath) {
    lines.push('Kubernetes (etcd + kube-apiserver; no kubelet, so pods are stored but never run):');
    lines.push(`  export KUBECONFIG=${info.kubeconfigPath}`);
    if (hasKubectl) {
      lines.push('  kubectl get namespaces');
    } else {
      lines.push('  (kubectl is not installed here; the same with curl:)');
    }
    lines.push(
      `  curl --cacert ${info.apiserverCaFile} -H "Authorization: Bearer $(awk '/token:/{print $2}' $KUBECONFIG)" ${info.apiserverUrl}/api/v1/namespaces`,
    );
    lines.push('');
  }
  if (info.vault.address) {
    lines.push(info.vault.rootToken ? 'Vault (dev mode, unsealed):' : 'Vault (file storage, not initialised):');
    lines.push(`  export VAULT_ADDR=${info.vault.address}`);
    if (info.vault.rootToken) lines.push(`  export VAULT_TOKEN=${info.vault.rootToken}`);
    lines.push(`  ${vaultBinary} status`);
    lines.push(`  curl -s $VAULT_ADDR/v1/sys/health`);
    lines.push('');
  }
  if (info.kms.endpoint) {
    lines.push('AWS KMS (local-kms; any credentials work):');
    lines.push(`  endpoint ${info.kms.endpoint}   region ${info.kms.region}`);
    lines.push(`  key alias ${info.kms.keyAlias} (${info.kms.keyId})`);
    lines.push(`  other key alias ${info.kms.otherKeyAlias} (${info.kms.otherKeyId})`);
    const aws = `AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test aws --endpoint-url ${info.kms.endpoint} --region ${info.kms.region}`;
    lines.push(`  ${aws} kms encrypt --key-id ${info.kms.keyAlias} --plaintext fileb://<(printf hello) --query CiphertextBlob --output text`);
    if (!hasAws) lines.push('  (the AWS CLI is not installed here; any AWS SDK client with this endpoint works)');
    lines.push('');
  }
  if (infoFile) lines.push(`All of this as JSON: ${infoFile}`);
  return lines.join('\n');
}
