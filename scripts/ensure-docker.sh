#!/usr/bin/env bash
# Make a Docker engine available for the tests that drive the real engine: install
# Debian's docker.io when the daemon is missing and we are root, then start dockerd in
# the background and wait for it. Exits non-zero when no engine can be had.
set -euo pipefail

if docker info >/dev/null 2>&1; then
  exit 0
fi
if ! command -v dockerd >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "no dockerd and no way to install it (needs root and apt-get)" >&2
    exit 1
  fi
  echo "installing docker.io ..." >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
fi
if ! pgrep -x dockerd >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    echo "dockerd is not running and only root can start it here" >&2
    exit 1
  fi
  nohup dockerd >/tmp/kindfleet-dockerd.log 2>&1 &
fi
for _ in $(seq 1 30); do
  if docker info >/dev/null 2>&1; then
    exit 0
  fi
  sleep 1
done
echo "dockerd did not come up; see /tmp/kindfleet-dockerd.log" >&2
exit 1
