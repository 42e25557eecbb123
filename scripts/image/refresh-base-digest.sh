#!/usr/bin/env bash
# The Dockerfile's base images are pinned as TAG@sha256:DIGEST (ARG BUILD_IMAGE / BASE_IMAGE).
#   bash scripts/image/refresh-base-digest.sh           resolve each TAG in its registry now and
#                                                        rewrite the digest beside it
#   bash scripts/image/refresh-base-digest.sh --check   offline: every such ARG has the form
#                                                        tag@sha256:<64 hex> (CI runs this)
# Resolving needs a registry and one of: crane (go-containerregistry), skopeo, or
# docker buildx. The digest is the one of the tag's index (multi-architecture manifest
# list), so the same pin serves amd64 and arm64 builds.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
dockerfile="${DOCKERFILE:-$root/Dockerfile}"
args=(BUILD_IMAGE BASE_IMAGE)
placeholder="sha256:$(printf '0%.0s' {1..64})"
fail() { echo "refresh-base-digest: $*" >&2; exit 1; }

value_of() { sed -n "s/^ARG $1=//p" "$dockerfile"; }

if [ "${1:-}" = "--check" ]; then
  bad=0
  for a in "${args[@]}"; do
    v="$(value_of "$a")"
    if [[ ! "$v" =~ ^[a-z0-9./_-]+(:[A-Za-z0-9._-]+)@sha256:[0-9a-f]{64}$ ]]; then
      echo "refresh-base-digest: ARG $a=${v:-<missing>} is not tag@sha256:<64 hex>" >&2
      bad=1
    elif [ "${v#*@}" = "$placeholder" ]; then
      echo "refresh-base-digest: ARG $a still has the placeholder digest: run scripts/image/refresh-base-digest.sh with registry access" >&2
    fi
  done
  [ "$bad" = 0 ] || exit 1
  echo "refresh-base-digest: ${args[*]} pinned as tag@sha256:<64 hex>"
  exit 0
fi

# Docker Hub's official images live under library/.
qualified() { case "$1" in */*) echo "$1" ;; *) echo "docker.io/library/$1" ;; esac; }

resolve() { # resolve TAG -> sha256:... of the tag's manifest (list) in its registry
  local ref
  ref="$(qualified "$1")"
  if command -v crane >/dev/null 2>&1; then
    crane digest "$ref"
  elif command -v skopeo >/dev/null 2>&1; then
    skopeo inspect --raw "docker://$ref" | sha256sum | sed 's/^\([0-9a-f]\{64\}\).*/sha256:\1/'
  elif command -v docker >/dev/null 2>&1 && docker buildx version >/dev/null 2>&1; then
    docker buildx imagetools inspect "$ref" --format '{{.Manifest.Digest}}'
  else
    fail "needs crane, skopeo or docker buildx (and a registry) to resolve $1"
  fi
}

tmp="$(mktemp)"
trap 'rm -f "$tmp"' EXIT
cp "$dockerfile" "$tmp"
for a in "${args[@]}"; do
  v="$(value_of "$a")"
  [ -n "$v" ] || fail "no ARG $a= line in $dockerfile"
  tag="${v%@*}"
  digest="$(resolve "$tag")" || fail "could not resolve $tag"
  [[ "$digest" =~ ^sha256:[0-9a-f]{64}$ ]] || fail "$tag resolved to '$digest', not a sha256 digest"
  sed -i "s|^ARG $a=.*|ARG $a=$tag@$digest|" "$tmp"
  echo "refresh-base-digest: $a=$tag@$digest"
done
# The placeholder warning in the Dockerfile goes once real digests are in.
if ! grep -q "$placeholder" "$tmp"; then
  sed -i '/^# UNRESOLVED: /,/^# was introduced)/d' "$tmp"
fi
cp "$tmp" "$dockerfile"
