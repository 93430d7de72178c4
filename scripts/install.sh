#!/usr/bin/env bash
# Installs what netlab needs on Debian 12 / Ubuntu 22.04+, as root: system packages
# through apt, Python packages in a virtual environment, `netlab` on root's PATH.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=${NETLAB_VENV:-$ROOT/.venv}

if [ "$(id -u)" != 0 ]; then
  echo "install.sh: must be run as root (it installs packages with apt)" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
echo "== apt packages"
# dnsmasq-base is dnsmasq without its service (the kube-dns pod runs it).
# nginx and MariaDB run only inside labs: a package that was not here before must not
# start (or start at boot) as a service on the host. policy-rc.d tells the packages'
# scripts not to start anything during the install (Debian's own mechanism).
services=()
for package_unit in nginx:nginx mariadb-server:mariadb; do
  dpkg -s "${package_unit%%:*}" >/dev/null 2>&1 || services+=("${package_unit#*:}")
done
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\n# netlab install.sh: no services start during the install\nexit 101\n' >/usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends \
  python3 python3-venv python3-dev gcc libc6-dev \
  iproute2 iptables ipset nftables tcpdump iputils-ping curl netcat-openbsd dnsutils conntrack procps kmod util-linux \
  dnsperf dnsmasq-base mariadb-server mariadb-client nginx wrk \
  graphviz chromium \
  >/dev/null
# the real kubectl drives the lab's API: the distribution's kubernetes-client, unless one is there
command -v kubectl >/dev/null || apt-get install -y -q --no-install-recommends kubernetes-client >/dev/null
if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
  for unit in "${services[@]}"; do            # nor at the next boot
    systemctl disable --now "$unit.service" >/dev/null 2>&1 || true
  done
fi

# kube-proxy's rules see bridged pod traffic only through br_netfilter (built in on some
# kernels, a module on Debian's); loading it makes the host's bridges default to
# bridge-nf-call-iptables=1 too, which matters only to hosts that bridge traffic themselves
modprobe br_netfilter 2>/dev/null || true
[ -d /proc/sys/net/bridge ] || echo "install.sh: warning: no br_netfilter in this kernel: services between pods on one node will not work" >&2
if [ -d /etc/modules-load.d ] && modinfo br_netfilter >/dev/null 2>&1; then
  echo br_netfilter > /etc/modules-load.d/netlab.conf       # and after a reboot
fi

# netlab needs Python >= 3.11 (Ubuntu 22.04 ships 3.10 as python3, 3.11 as python3.11)
PY=/usr/bin/python3
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  apt-get install -y -q --no-install-recommends python3.11 python3.11-venv python3.11-dev >/dev/null
  PY=/usr/bin/python3.11
fi

echo "== Python packages in $VENV"
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check -e "$ROOT[test]"

# netlab, kube-netlab, and the small programs pods run (`netlab exec POD -- netlab-connect ...`),
# on root's PATH; never over another program's `netlab`
"$ROOT/scripts/link-commands.sh" "$VENV"
echo "== installed: $("$VENV/bin/netlab" --help | head -1)"
