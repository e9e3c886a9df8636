#!/usr/bin/env bash
# Installs (from Debian's packages) and starts what the Docker-based suites need: a Docker engine,
# docker-compose and debootstrap. Idempotent: a running engine is reused. Needs root.
#
# The engine runs without a bridge or iptables rules (`--bridge=none --iptables=false`): builds use
# host networking and end-to-end stacks use `network_mode: host`, so all traffic stays on 127.0.0.1.
set -euo pipefail

SOCK=/var/run/docker.sock
LOG=${DOCKERD_LOG:-/var/log/agent-infra-dockerd.log}

need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
if [ ${#need[@]} -gt 0 ]; then
  echo "docker-engine: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

engine_up() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

if engine_up; then
  echo "docker-engine: engine already running ($(docker version --format '{{.Server.Version}}'))"
  exit 0
fi

# A stale pid file from an engine that is gone would stop dockerd from starting.
if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then rm -f /var/run/docker.pid; fi

echo "docker-engine: starting dockerd (log: $LOG)"
nohup dockerd --bridge=none --iptables=false --ip6tables=false --storage-driver=overlay2 --host=unix://$SOCK >"$LOG" 2>&1 &
for _ in $(seq 1 60); do
  if engine_up; then
    echo "docker-engine: ready, server $(docker version --format '{{.Server.Version}}'), pid $(cat /var/run/docker.pid)"
    exit 0
  fi
  sleep 1
done
echo "docker-engine: dockerd did not come up within 60 s; last lines of $LOG:" >&2
tail -20 "$LOG" >&2
exit 1
