# syntax=docker/dockerfile:1
# Conventional multi-arch build for machines with Docker:
#   docker buildx build --platform linux/amd64,linux/arm64 -t vault-autopilot .
# (`make image-buildx`). The dependencies are pure JavaScript, so the build
# stages run on the builder's own platform; only the runtime stage is per-arch.
# `make image` builds the same image without a Docker daemon.

ARG NODE_MAJOR=22

FROM --platform=$BUILDPLATFORM node:${NODE_MAJOR}-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY operator ./operator
# tsc checks the types; esbuild writes the bundle the image runs (its
# dependencies included: no node_modules at run time; README "Performance")
RUN npx tsc -p tsconfig.json --noEmit \
 && node --import=tsx operator/deploy/image/esbuild.ts --outdir dist/operator

# distroless: no shell, no package manager; the :nonroot tag runs as 65532.
FROM gcr.io/distroless/nodejs${NODE_MAJOR}-debian12:nonroot
ARG VERSION=dev
LABEL org.opencontainers.image.title="vault-autopilot" \
      org.opencontainers.image.description="Self-service HashiCorp Vault on Kubernetes" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
WORKDIR /app
ENV NODE_ENV=production
COPY package.json ./
COPY crds ./crds
COPY --from=build /src/dist/operator ./dist/operator
USER 65532:65532
# --max-opt=2: no Turbofan (memory; Node refuses it in NODE_OPTIONS):
# ENTRYPOINT_NODE_FLAGS in operator/deploy/deployment.ts, README "Performance"
ENTRYPOINT ["/nodejs/bin/node", "--max-opt=2", "/app/dist/operator/main.js"]
