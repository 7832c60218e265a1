#!/usr/bin/env bash
# `make e2e-k3d`: the whole product on a real (k3d) cluster with running pods.
# Needs Docker, k3d and kubectl; NOT part of CI (the CI machines have no
# Docker daemon -- the integration suite covers the apiserver side there).
#
#   1. k3d cluster create
#   2. import the OCI archive from `make image` the way a k3s air-gapped node
#      does (ctr images import --all-platforms)
#   3. kubectl apply --server-side -f olm-bundle/install.yaml, wait for the operator
#   4. apply the samples: a managed Vault (wait for Ready), an auto-configured
#      ServiceAccount (wait for its role in the Vault resource), a pod that asks
#      for a Vault Agent (check it was injected); KMSVaultSecret only with
#      E2E_KMS=1 and AWS credentials in the environment (it needs real AWS KMS)
#   5. tear down (KEEP=1 keeps the cluster)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VERSION="$(node -p "require('$ROOT/package.json').version")"
CLUSTER="${CLUSTER:-vault-autopilot-e2e}"
ARCHIVE="${ARCHIVE:-$ROOT/build/vault-autopilot-$VERSION.oci.tar}"
OPERATOR_NS="${OPERATOR_NS:-vault-autopilot}"
VAULT_NS="vault-system"   # the operator's default target Vault is vault-system/vault
APPS_NS="e2e-apps"
TIMEOUT="${TIMEOUT:-600s}"

log() { printf '\n==> %s\n' "$*"; }
need() { command -v "$1" >/dev/null || { echo "e2e-k3d needs $1 ($2)" >&2; exit 2; }; }
need docker "https://docs.docker.com/engine/install/"
need k3d "https://k3d.io"
need kubectl "https://kubernetes.io/docs/tasks/tools/"
docker info >/dev/null 2>&1 || { echo "e2e-k3d needs a running Docker daemon" >&2; exit 2; }
[ -f "$ARCHIVE" ] || { log "no image archive: make image"; make -C "$ROOT" image; }

cleanup() {
  if [ "${KEEP:-0}" = 1 ]; then
    echo "KEEP=1: cluster $CLUSTER left running (k3d cluster delete $CLUSTER)"
  else
    k3d cluster delete "$CLUSTER" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

log "k3d cluster create $CLUSTER"
k3d cluster delete "$CLUSTER" >/dev/null 2>&1 || true
k3d cluster create "$CLUSTER" --servers 1 --agents 0 --wait --timeout 180s
kubectl config use-context "k3d-$CLUSTER" >/dev/null

log "import $(basename "$ARCHIVE") into the node's containerd (as k3s airgap does)"
node_container="k3d-$CLUSTER-server-0"
docker cp "$ARCHIVE" "$node_container:/tmp/vault-autopilot.oci.tar"
docker exec "$node_container" ctr --namespace k8s.io images import --all-platforms /tmp/vault-autopilot.oci.tar
docker exec "$node_container" ctr --namespace k8s.io images ls -q | grep vault-autopilot

log "install: kubectl apply --server-side -f olm-bundle/install.yaml"
kubectl apply --server-side -f "$ROOT/olm-bundle/install.yaml"
kubectl -n "$OPERATOR_NS" rollout status deployment/vault-autopilot --timeout="$TIMEOUT"
kubectl -n "$OPERATOR_NS" wait pod -l app.kubernetes.io/name=vault-autopilot --for=condition=Ready --timeout="$TIMEOUT"
kubectl get mutatingwebhookconfiguration vault-autopilot-webhook -o jsonpath='{.webhooks[0].clientConfig.caBundle}' | grep -q . \
  || { echo "the operator did not publish its webhook caBundle" >&2; exit 1; }

log "sample: a managed Vault in $VAULT_NS (wait for Ready)"
kubectl create namespace "$VAULT_NS" --dry-run=client -o yaml | kubectl apply -f -
kubectl -n "$VAULT_NS" apply -f "$ROOT/samples/vault-managed.yaml"
kubectl -n "$VAULT_NS" wait vault/vault --for=condition=Ready --timeout="$TIMEOUT"
kubectl -n "$VAULT_NS" get vault/vault -o wide

log "sample: an auto-configured ServiceAccount (its role appears in the Vault resource)"
kubectl create namespace "$APPS_NS" --dry-run=client -o yaml | kubectl apply -f -
kubectl -n "$APPS_NS" apply -f "$ROOT/samples/serviceaccount.yaml"
for _ in $(seq 60); do
  kubectl -n "$VAULT_NS" get vault/vault -o json | grep -q "sa.$APPS_NS.orders" && break
  sleep 2
done
kubectl -n "$VAULT_NS" get vault/vault -o json | grep -q "sa.$APPS_NS.orders" || { echo "role sa.$APPS_NS.orders never appeared" >&2; exit 1; }

log "a pod asking for a Vault Agent gets one injected"
kubectl -n "$APPS_NS" apply -f - <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: e2e-agent
  annotations:
    vault.autopilot.dev/agent-inject: "true"
spec:
  serviceAccountName: orders
  containers:
    - name: app
      image: busybox:1.36
      command: ["sleep", "3600"]
YAML
containers=$(kubectl -n "$APPS_NS" get pod e2e-agent -o jsonpath='{.spec.initContainers[*].name} {.spec.containers[*].name}')
echo "containers: $containers"
echo "$containers" | grep -qi vault || { echo "no Vault Agent container was injected" >&2; exit 1; }

if [ "${E2E_KMS:-0}" = 1 ]; then
  log "sample: KMSVaultSecret (real AWS KMS; credentials from the environment)"
  : "${AWS_ACCESS_KEY_ID:?E2E_KMS=1 needs AWS_ACCESS_KEY_ID}" "${AWS_SECRET_ACCESS_KEY:?E2E_KMS=1 needs AWS_SECRET_ACCESS_KEY}" "${AWS_REGION:?E2E_KMS=1 needs AWS_REGION}"
  kubectl -n "$OPERATOR_NS" create secret generic aws-kms --from-literal=AWS_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID" \
    --from-literal=AWS_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY" --from-literal=AWS_REGION="$AWS_REGION" --dry-run=client -o yaml | kubectl apply -f -
  kubectl -n "$OPERATOR_NS" set env deployment/vault-autopilot --from=secret/aws-kms
  kubectl -n "$OPERATOR_NS" rollout status deployment/vault-autopilot --timeout="$TIMEOUT"
  kubectl -n "$APPS_NS" apply -f "$ROOT/samples/kmsvaultsecret.yaml"
  kubectl -n "$APPS_NS" wait kmsvaultsecret --all --for=condition=Ready --timeout="$TIMEOUT"
else
  echo "KMSVaultSecret sample skipped (E2E_KMS=1 with AWS credentials to run it)"
fi

log "e2e-k3d: all checks passed"
