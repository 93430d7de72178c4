#!/usr/bin/env bash
# Installs everything, brings up the seed lab and shows it working. Run as root.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
"$ROOT/scripts/install.sh"
NETLAB=${NETLAB_VENV:-$ROOT/.venv}/bin/netlab

if [ -d /run/netlab/seed ]; then
  echo "== the seed lab is already running: rebuilding it"
  "$NETLAB" down --name seed
fi
echo "== netlab up"
"$NETLAB" up
echo
echo "== a node1 pod pings a node2 pod, across flannel.1 (VXLAN)"
echo "\$ netlab exec business-manager-666f454f7f-7l86b -- ping -c 3 172.30.9.2"
"$NETLAB" exec business-manager-666f454f7f-7l86b -- ping -c 3 172.30.9.2
echo
echo "\$ netlab exec node1 -- ip route"
"$NETLAB" exec node1 -- ip route
echo "\$ netlab exec node1 -- ip neigh show dev flannel.1"
"$NETLAB" exec node1 -- ip neigh show dev flannel.1
echo "\$ netlab exec node1 -- bridge fdb show dev flannel.1"
"$NETLAB" exec node1 -- bridge fdb show dev flannel.1
echo
echo "The seed lab is running. Explore it with 'netlab get pods -A -o wide', 'netlab exec node1 -- bash',"
echo "'netlab capture node1:eth0 -c 5 udp port 8472'; remove it with 'netlab down'."
