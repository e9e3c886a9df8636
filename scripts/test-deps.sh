#!/usr/bin/env bash
# Debian packages the tests use besides Node: pyzmq (a real ZMQ REP socket for the probe tests),
# the Redis and NATS servers the end-to-end suite's local images are built from, and the python3
# packages that stand in for the real agents' PyPI dependencies in the real-code suite (RUNTIME.md),
# pip with setuptools and wheel, which build the images suite's own wheels offline, and for the
# firewall and Prometheus tests: nftables, iproute2 (test hosts in network namespaces) and Prometheus
# (the server and promtool).
# Needs root.
set -euo pipefail
PACKAGES=(python3-zmq python3-redis redis-server redis-tools nats-server
  python3-pydantic python3-prometheus-client python3-psutil python3-yaml python3-aiohttp python3-numpy
  python3-pip python3-setuptools python3-wheel
  nftables iproute2 prometheus)
missing=()
for p in "${PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "test-deps: installing ${missing[*]}"
  apt-get update -qq
  # No service is started: the packages' init scripts do not run without an init system here.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
/usr/bin/python3 -c 'import zmq' && echo "test-deps: pyzmq $(/usr/bin/python3 -c 'import zmq; print(zmq.__version__)') (libzmq $(/usr/bin/python3 -c 'import zmq; print(zmq.zmq_version())'))"
