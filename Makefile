# vault-autopilot — `make help` lists the targets.
# Every target that needs them installs the npm dependencies and builds the
# real test servers first (both cached; a warm run skips them).
SHELL := /bin/bash
.DEFAULT_GOAL := help

NPM_STAMP := node_modules/.package-lock.json

.PHONY: help deps build lint test test-unit test-integration servers bundle-validator test-env postgres openssl demo demo-servers demo-operator soak clean cluster-build cluster test-e2e olm-tools test-olm

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  make %-18s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(NPM_STAMP): package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

deps: $(NPM_STAMP) ## Install npm dependencies (npm ci) when package-lock.json changed

build: deps ## Compile TypeScript to dist/
	npm run build

lint: deps ## Type-check everything (strict tsc), then ESLint (typescript-eslint type-aware rules: no floating promises; the framework import boundary)
	npm run lint

servers: ## Build etcd, kube-apiserver, Vault, local-kms from the Go module proxy (cached in ~/.cache/vault-autopilot)
	bash test/harness/build-servers.sh

postgres: ## Install PostgreSQL (Debian package) when missing: the dynamic database credentials tests start their own server from it
	@compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || { \
	  sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends postgresql; }

openssl: ## Install openssl (Debian package) when missing: a unit test checks the webhook certificates with `openssl verify -x509_strict`
	@command -v openssl >/dev/null || { \
	  sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends openssl; }

bundle-validator: ## Build the operator-framework bundle validators (test/olm/validate, from the Go module proxy; cached like the servers)
	bash test/olm/build.sh bundle-validate

test: deps servers bundle-validator postgres openssl lint ## Lint, then unit + integration tests (integration against the real servers); fails if any fails
	@rc=0; npm run test:unit || rc=1; npm run test:integration || rc=1; exit $$rc

test-unit: deps bundle-validator openssl ## Unit tests only (no servers; the bundle tests run the Go-built validator)
	npm run test:unit

test-integration: deps servers bundle-validator postgres ## Integration tests against one shared set of real servers (ARGS="file.test.ts --match ..." to narrow)
	npm run test:integration -- $(ARGS)

soak: deps servers ## Two operator replicas under churn (SOAK_SECONDS, default 300), leader killed -9 half-way; writes counted by the apiserver's audit log and Vault's audit device (not in CI)
	node --import=tsx test/bench/availability/two-replicas.ts --seconds $(or $(SOAK_SECONDS),300)

test-env: deps servers ## Start the test servers for manual use and print how to connect; Ctrl-C stops them
	npm run test-env

demo: deps ## The talk's flow on the local cluster (install, Vault, ServiceAccount, KMSVaultSecret, injected pod), printing each step (HOLD=1 keeps it up)
	npm run demo -- $(if $(HOLD),--hold,)

demo-servers: deps servers ## The self-service flow without pods, on the local servers (faster), printing each step (HOLD=1 keeps it up)
	npm run demo-servers -- $(if $(HOLD),--hold,)

demo-operator: deps servers ## Start the local servers, apply crds/, run the operator binary against them for manual use; Ctrl-C stops
	npm run demo-operator

cluster-build: deps ## Build the local cluster's binaries and images (k8s node, CoreDNS, pause, Vault, app, operator; cached; installs Debian packages when missing)
	bash test/cluster/build.sh >/dev/null

cluster: deps ## Start a local single-node Kubernetes cluster that runs pods (needs root); prints KUBECONFIG; Ctrl-C stops it
	npm run cluster

olm-tools: ## Build OLM v0.38.0 (olm, catalog, cpb), opm v1.61.0 and OLM's image for the local cluster, from the Go module proxy (cached)
	bash test/olm/build.sh olm-image opm >/dev/null

test-e2e: deps olm-tools bundle-validator postgres ## End-to-end tests on one local cluster (test/e2e/**, OLM's included; ARGS="file.test.ts --match ..." to narrow)
	npm run test:e2e -- $(ARGS)

test-olm: deps olm-tools bundle-validator ## Only the OLM e2e tests (test/e2e/olm*.test.ts) on a local cluster: install, webhook, self-service, upgrade, uninstall, and the Own/Single/MultiNamespace install modes through the real OLM
	npm run test:e2e -- test/e2e/olm.test.ts test/e2e/olm-install-modes.test.ts

# test/bench/: benchmarks report, they never fail on machine noise (not part of `make test`).
.PHONY: bench bench-peers bench-webhook bench-memory bench-kmsvaultsecret bench-scale
bench-peers: ## Build the benchmark peer vault-k8s v1.6.2 and the load generator vegeta from the Go module proxy (cached like the servers)
	nice -n 10 bash test/harness/build-servers.sh vault-k8s vegeta >/dev/null

bench-webhook: deps servers bench-peers ## Webhook vs vault-k8s: same AdmissionReviews, vegeta, 50/200/500/max req/s, 3 alternating reps (ARGS="--seconds 5 --reps 1")
	node --import=tsx test/bench/webhook/compare.ts $(ARGS)

bench-memory: deps servers bench-peers ## Operator memory: cost of each import, idle RSS (all lifecycles / webhook only, image node flags or not) vs vault-k8s (ARGS="--snapshot")
	node --import=tsx test/bench/memory/run.ts $(ARGS)

bench-kmsvaultsecret: deps servers ## 200 KMSVaultSecrets: time to Ready, then Vault reads / KMS decrypts / writes per sync period
	KMSVS_SCALE_OBJECTS=$${KMSVS_SCALE_OBJECTS:-200} npm run test:integration -- test/integration/kmsvaultsecret/scale.test.ts

bench-scale: deps servers ## 1,000 annotated ServiceAccounts (+ real logins) and 500 KMSVaultSecrets, restart in sync and its writes, 5 min idle (writes, Vault reads per minute), removal; the operator binary counted by the apiserver's audit log and Vault's audit device (ARGS="--idle-seconds 60")
	node --import=tsx test/bench/scale/run.ts $(ARGS)

bench: bench-webhook bench-memory bench-kmsvaultsecret bench-scale ## All benchmarks (about 30 minutes; prints tables with vault-k8s's figures and the ratios)

clean: ## Remove build output (dist/); the server cache stays (rm -rf ~/.cache/vault-autopilot to drop it)
	rm -rf dist

# --- Packaging and distribution (operator/deploy/, olm-bundle/, Dockerfile) ---
.PHONY: bundle install-manifest bundle-check image image-smoke image-buildx e2e-k3d

IMAGE_REPO ?= ghcr.io/vault-autopilot/vault-autopilot
VERSION := $(shell node -p "require('./package.json').version")

bundle: deps ## Regenerate the OLM bundle (olm-bundle/manifests, metadata, bundle.Dockerfile) from crds/, samples/ and operator/deploy/
	npx tsx operator/deploy/generate.ts bundle

install-manifest: deps ## Regenerate olm-bundle/install.yaml (kubectl install) from crds/ and operator/deploy/
	npx tsx operator/deploy/generate.ts install-manifest

bundle-check: deps bundle-validator ## Fail if olm-bundle/ is not what `make bundle install-manifest` would write, or if the operator-framework validators report any error or warning
	npx tsx operator/deploy/generate.ts all --check
	"$$(bash test/olm/build.sh bundle-validate | tail -1)" -k8s-version 1.36 olm-bundle

image: ## Two-arch (amd64+arm64) OCI image archive in build/, without a Docker daemon (buildah/skopeo; SOURCE_REF=WORKTREE to build uncommitted code)
	bash operator/deploy/image/build-image.sh

image-smoke: ## Unpack the arm64 image and run node, --version and --self-check under qemu-aarch64-static; ctr import check when containerd is installed
	bash operator/deploy/image/smoke-image.sh
	@if command -v containerd >/dev/null; then bash operator/deploy/image/verify-ctr-import.sh; else echo "containerd not installed: ctr import check skipped"; fi

image-buildx: ## docker buildx build --platform linux/amd64,linux/arm64 (needs Docker; PUSH=1 pushes to IMAGE_REPO)
	docker buildx build --platform linux/amd64,linux/arm64 --build-arg VERSION=$(VERSION) \
	  -t $(IMAGE_REPO):$(VERSION) $(if $(PUSH),--push,) .

e2e-k3d: ## Full cluster test on k3d (needs Docker; not part of CI): import image, install, apply samples, wait for Ready, tear down
	bash test/e2e-k3d/run.sh
