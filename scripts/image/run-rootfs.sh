#!/usr/bin/env bash
# Runs a command in an image's root file system the way a container runtime would, without one:
#   run-rootfs.sh ROOTFS UID:GID WORKDIR ENV_FILE -- COMMAND [ARG...]
# - new mount and PID namespaces: COMMAND is PID 1 (no shell or init in between);
# - the root file system is a read-only bind mount of ROOTFS, with a fresh tmpfs on /tmp and
#   a /dev holding only null, zero, full, random, urandom;
# - the process runs as UID:GID with no supplementary groups and no capabilities;
# - its environment is exactly ENV_FILE's NAME=value lines (the image's env plus the test's).
# The network namespace is the caller's: run it under `nsenter --net=...` to isolate it.
# Every step ends in exec, so the caller's $! is the parent of PID 1 (`pgrep -P` finds it),
# and this script's exit code is the command's.
set -euo pipefail

if [ "${1:-}" != "--in-namespace" ]; then
  exec unshare --mount --propagation private -- "$0" --in-namespace "$@"
fi
shift
rootfs="$1" user="$2" workdir="$3" env_file="$4"
[ "$5" = "--" ] || { echo "usage: run-rootfs.sh ROOTFS UID:GID WORKDIR ENV_FILE -- COMMAND..." >&2; exit 64; }
shift 5

# These mounts live in this private mount namespace only and vanish with it.
root="$rootfs"
mount --bind "$root" "$root"
mount -o remount,bind,ro "$root"
mount -t tmpfs -o mode=1777,nosuid,nodev,size=64m tmpfs "$root/tmp"
mount -t tmpfs -o mode=755,nosuid,size=64k tmpfs "$root/dev"
for dev in null zero full random urandom; do
  touch "$root/dev/$dev"
  mount --bind "/dev/$dev" "$root/dev/$dev"
done
ln -s /proc/self/fd "$root/dev/fd"

# Read without a subprocess: a finished child left unreaped here would, after exec, show up
# beside PID 1 as a second child of $!.
env_lines=()
while IFS= read -r line || [ -n "$line" ]; do
  [ -z "${line//[[:space:]]/}" ] || env_lines+=("$line")
done <"$env_file"
# --setgid drops supplementary groups too. --mount-proc mounts a /proc of the new PID
# namespace inside the new root. No --kill-child: changing the uid clears the parent-death
# signal, so a caller that stops early must kill PID 1 (the child of $!) itself.
exec env -i "${env_lines[@]}" "$(command -v unshare)" --pid --fork --mount-proc=/proc \
  --root="$root" --wd="$workdir" --setgid "${user#*:}" --setuid "${user%%:*}" -- "$@"
