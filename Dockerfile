# access-connector container image (docs/image.md).
#   docker build -t access-connector .
# Both stages start from the official node:24-bookworm-slim, pinned by digest with its tag
# beside it (a tag moves; a digest names one image). scripts/image/refresh-base-digest.sh
# resolves the tag in the registry and rewrites both lines; CI checks their form.
# BUILD_IMAGE needs node, npm and a shell. BASE_IMAGE needs node on PATH and, for the one
# RUN below, a shell; npm, npx and corepack are removed from it.
# The digest below is a published node:24-bookworm-slim image (Node 24.18.0); it was taken
# without registry access, so run scripts/image/refresh-base-digest.sh for the newest one.
ARG BUILD_IMAGE=node:24-bookworm-slim@sha256:6f7b03f7c2c8e2e784dcf9295400527b9b1270fd37b7e9a7285cf83b6951452d
ARG BASE_IMAGE=node:24-bookworm-slim@sha256:6f7b03f7c2c8e2e784dcf9295400527b9b1270fd37b7e9a7285cf83b6951452d

# ---- build: compile src/ with the dev dependencies, then bundle it (scripts/bundle.ts) ----
FROM ${BUILD_IMAGE} AS build
WORKDIR /build
COPY package.json package-lock.json ./
# Install scripts are not run (esbuild's, the only one, merely caches its binary's path).
# The npm cache lives in /tmp of this stage only and is deleted in the same layer.
# Behind a TLS-inspecting proxy, pass its CA as a build secret (--secret id=extra_ca,src=FILE):
# npm trusts it during this step only, and it is in no layer.
RUN --mount=type=secret,id=extra_ca,required=false \
    if [ -s /run/secrets/extra_ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/extra_ca; fi \
 && npm ci --ignore-scripts --no-audit --no-fund --no-update-notifier --loglevel=warn --cache /tmp/npm-cache \
 && rm -rf /tmp/npm-cache
COPY tsconfig.json ./
COPY scripts/image/tsconfig.json scripts/image/
COPY scripts/bundle.ts scripts/
COPY src ./src
# The image's tsconfig compiles src/ and the bundler script alone (the project's also
# compiles test/, bench/, scripts/). The bundle is dist/bundle: one file per lazily loaded
# part, the license texts of what it holds, and esbuild's metafile and source maps, which
# only tests, profiles and development read (they leave the image here).
# yaml, the one package left outside the bundle, keeps its run-time files only.
RUN node_modules/.bin/tsc -p scripts/image/tsconfig.json \
 && node dist/scripts/bundle.js \
 && rm dist/bundle/meta.json dist/bundle/*.map \
 && rm -rf node_modules/yaml/browser \
 && find node_modules/yaml -type f \( -name '*.ts' -o -name '*.map' \) -delete

# ---- runtime ----
FROM ${BASE_IMAGE}
ARG BASE_IMAGE
ARG VERSION=0.0.0-dev
ARG REVISION=unknown
ARG CREATED=unknown
ARG SOURCE=""
LABEL org.opencontainers.image.title="access-connector" \
      org.opencontainers.image.description="Outbound-only connector between an access-management control plane and an AWS organization" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.base.name="${BASE_IMAGE}"

# HOME=/tmp: the AWS SDK looks for ~/.aws there; the process writes no file anywhere.
# MALLOC_ARENA_MAX=2: glibc otherwise gives each of Node's threads a malloc arena of its own,
# and memory freed there (V8's compiler and parser zones, mostly) stays resident: a
# 1,000-account sync peaked about 10 MB lower with two (docs/performance.md, "Memory").
ENV NODE_ENV=production \
    HOME=/tmp \
    MALLOC_ARENA_MAX=2 \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# Nothing at run time installs packages: no npm, npx, corepack or yarn in the runtime image
# (node itself needs none of them). scripts/image/build-and-test.sh checks they are gone.
RUN rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
      /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
      /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-* \
 && if [ -e /usr/local/bin/npm ] || [ -e /usr/local/lib/node_modules/npm ]; then exit 1; fi

WORKDIR /app
# Owned by root, not writable by the runtime user. The bundle holds the connector and its
# dependencies, except the YAML parser, which it loads with require() on the first operator
# file (src/files.ts) and which has no dependencies of its own. The bundle keeps the path
# the unbundled build had, /app/dist/src/main.js, so commands and health checks that name
# it keep working.
COPY --from=build --chown=0:0 /build/node_modules/yaml ./node_modules/yaml
COPY --from=build --chown=0:0 /build/package.json ./
COPY --from=build --chown=0:0 /build/dist/bundle ./dist/src

# Numeric, so no passwd entry is needed and Kubernetes' runAsNonRoot can verify it.
USER 65532:65532
EXPOSE 8080
# Reads HEALTH_PORT only; asks 127.0.0.1, so HEALTH_HOST must include loopback (the default 0.0.0.0 does).
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
  CMD ["node", "/app/dist/src/main.js", "healthcheck"]
# node is PID 1 with no init: the daemon handles SIGTERM and SIGINT itself (drain, then
# exit 0) and starts no child processes, so there are no zombies to reap and no signals to
# forward. Give the platform a stop timeout of at least SHUTDOWN_GRACE_SECONDS + 15 s.
STOPSIGNAL SIGTERM
# V8's tiers (docs/performance.md, "Tiering"): no baseline machine code (--no-sparkplug), no
# mid-tier compiler (--no-maglev), and the optimizing compiler only for code that runs about
# 20,000 times (V8's default is 3,000): a sync's hot paths get there, the start-up's code
# does not. Measured: 15 s after start 61.9 MB instead of 63.6; a 1,000-account sync's peak
# 121-130 MB instead of 129-138, for 8-13 % more CPU (2 % at 10,000 accounts).
# NODE_OPTIONS accepts none of these, so they are here.
ENTRYPOINT ["node", "--no-sparkplug", "--no-maglev", "--invocation-count-for-turbofan=20000", "/app/dist/src/main.js"]
CMD ["run"]
