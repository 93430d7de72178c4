#!/usr/bin/env bash
# Links netlab's commands from a venv into $NETLAB_BIN_DIR (default /usr/local/bin), never
# over a command of that name that is not netlab's: ipSpace's network lab tool (PyPI
# `networklab`) installs a `netlab` too. Then netlab is there as `kube-netlab` only.
#   scripts/link-commands.sh VENV
set -euo pipefail
VENV=${1:?usage: link-commands.sh VENV}
BIN=${NETLAB_BIN_DIR:-/usr/local/bin}
mkdir -p "$BIN"

# ours: nothing there, a link that leads nowhere, or a script that runs netlab.cli
ours() {
  [ -e "$1" ] || return 0
  grep -qs '^from netlab\.\(cli\|apps\.[a-z_]*\) import main' "$(readlink -f "$1")"
}

for cmd in netlab kube-netlab netlab-connect netlab-whoami; do
  if ours "$BIN/$cmd"; then
    ln -sfn "$VENV/bin/$cmd" "$BIN/$cmd"
  elif [ "$cmd" = netlab ]; then
    echo "install: $BIN/netlab is another program's and was kept: run netlab as kube-netlab"
  else
    echo "install: $BIN/$cmd is another program's and was kept"
  fi
done
