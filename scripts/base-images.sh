#!/usr/bin/env bash
# Builds the local base images the generated Dockerfiles are built on here, from Debian's packages,
# since no container registry is reachable: Debian 12 (minbase) with Python 3.11 and venv.
#   agent-infra-base/python:3.11-bookworm      stands in for python:3.11-slim-bookworm
#   agent-infra-base/gpu-standin:3.11-bookworm stands in for a CUDA runtime base (no CUDA inside)
#   redis:7.2.5-bookworm, nats:2.10.22-alpine3.20  the pinned official images the generated files name
#       (agent-infra's defaults), built locally from Debian's redis-server 7.0 and nats-server 2.9
#       under the same tags, so that the generated files run unchanged where no registry is reachable
# Cached: an image that exists is kept (FORCE=1 rebuilds). Needs root and a running engine
# (scripts/docker-engine.sh).
set -euo pipefail

BASE=agent-infra-base/python:3.11-bookworm
GPU=agent-infra-base/gpu-standin:3.11-bookworm
REDIS=redis:7.2.5-bookworm
NATS=nats:2.10.22-alpine3.20

# The Debian mirror this machine's apt uses (override with DEBIAN_MIRROR).
mirror() {
  if [ -n "${DEBIAN_MIRROR:-}" ]; then echo "$DEBIAN_MIRROR"; return; fi
  local m=""
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    m=$(awk '/^URIs:/ {u=$2} /^Suites:/ && $0 ~ /bookworm( |$)/ && $0 !~ /security/ {print u; exit}' /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "$m" ] && [ -f /etc/apt/sources.list ]; then
    m=$(awk '$1 == "deb" && $3 ~ /^bookworm$/ {print $2; exit}' /etc/apt/sources.list)
  fi
  [ -n "$m" ] || { echo "base-images: no Debian mirror found in apt's sources; set DEBIAN_MIRROR" >&2; exit 1; }
  echo "$m"
}

have() { docker image inspect "$1" >/dev/null 2>&1; }

# Redis and NATS on the base, from Debian's packages: the official images' commands and health checks
# work in them (redis-server, redis-cli, sh; nats-server, wget), /data belongs to the official redis uid.
infrastructure() {
  have "$REDIS" && have "$NATS" && [ "${FORCE:-0}" != 1 ] && return 0
  printf '%s\n' "FROM $BASE" \
    "LABEL org.opencontainers.image.description=\"stand-in for the official $REDIS: Debian 12 redis-server\"" \
    'RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server redis-tools && apt-get clean && rm -rf /var/lib/apt/lists/* /var/log/apt /var/log/dpkg.log && mkdir -p /data && chown 999:999 /data' \
    'WORKDIR /data' 'CMD ["redis-server"]' | docker build --network host -q -t "$REDIS" - >/dev/null
  echo "base-images: $REDIS (stand-in): $(docker image inspect "$REDIS" --format '{{.Size}}') bytes"
  printf '%s\n' "FROM $BASE" \
    "LABEL org.opencontainers.image.description=\"stand-in for the official $NATS: Debian 12 nats-server\"" \
    'RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nats-server wget && apt-get clean && rm -rf /var/lib/apt/lists/* /var/log/apt /var/log/dpkg.log' \
    'CMD ["nats-server"]' | docker build --network host -q -t "$NATS" - >/dev/null
  echo "base-images: $NATS (stand-in): $(docker image inspect "$NATS" --format '{{.Size}}') bytes"
}

if [ "${FORCE:-0}" != 1 ] && have "$BASE" && have "$GPU"; then
  echo "base-images: $BASE and $GPU present (FORCE=1 rebuilds)"
  infrastructure
  exit 0
fi

command -v debootstrap >/dev/null 2>&1 || { echo "base-images: debootstrap missing; run scripts/docker-engine.sh first" >&2; exit 1; }
ROOTFS=$(mktemp -d /tmp/agent-infra-rootfs.XXXXXX)
trap 'rm -rf "$ROOTFS"' EXIT
MIRROR=$(mirror)
echo "base-images: debootstrap bookworm (minbase, python3) into $ROOTFS"
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$ROOTFS" "$MIRROR" >/tmp/agent-infra-debootstrap.log 2>&1 || {
  echo "base-images: debootstrap failed; last lines of /tmp/agent-infra-debootstrap.log:" >&2
  tail -20 /tmp/agent-infra-debootstrap.log >&2
  exit 1
}
# Package lists and caches are not part of a base image.
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/log/*.log
# Keep image layers free of docs nobody reads in a container.
rm -rf "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/*

tar --numeric-owner -C "$ROOTFS" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["python3"]' \
  - "$BASE" >/dev/null
echo "base-images: $BASE: $(docker image inspect "$BASE" --format '{{.Size}}') bytes"

# The GPU stand-in shares every layer of the base: it only marks what it stands for.
printf 'FROM %s\nLABEL org.opencontainers.image.description="stand-in for a CUDA runtime base: Debian 12, Python 3.11, no CUDA"\n' "$BASE" |
  docker build --network host -q -t "$GPU" - >/dev/null
echo "base-images: $GPU: $(docker image inspect "$GPU" --format '{{.Size}}') bytes"

infrastructure
