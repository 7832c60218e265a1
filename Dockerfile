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
RUN npx tsc -p tsconfig.json --sourceMap false

FROM --platform=$BUILDPLATFORM node:${NODE_MAJOR}-bookworm-slim AS production-deps
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && find node_modules -type f \( -name '*.d.ts' -o -name '*.map' \) -delete

# distroless: no shell, no package manager; the :nonroot tag runs as 65532.
FROM gcr.io/distroless/nodejs${NODE_MAJOR}-debian12:nonroot
ARG VERSION=dev
LABEL org.opencontainers.image.title="vault-autopilot" \
      org.opencontainers.image.description="Self-service HashiCorp Vault on Kubernetes" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
COPY crds ./crds
COPY --from=production-deps /src/node_modules ./node_modules
COPY --from=build /src/dist/operator ./dist/operator
USER 65532:65532
ENTRYPOINT ["/nodejs/bin/node", "/app/dist/operator/main.js"]
