#!/usr/bin/env bash
# Installs everything, brings up the seed lab and shows it working. Run as root.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
"$ROOT/scripts/install.sh"
VENV=${NETLAB_VENV:-$ROOT/.venv}
# the name it is installed as: kube-netlab where another program owns `netlab`
CMD=netlab
[ "$(readlink -f "${NETLAB_BIN_DIR:-/usr/local/bin}/netlab")" = "$(readlink -f "$VENV/bin/netlab")" ] || CMD=kube-netlab
NETLAB=$VENV/bin/$CMD

if [ -d /run/netlab/seed ]; then
  echo "== the seed lab is already running: rebuilding it"
  "$NETLAB" down --name seed
fi
echo "== $CMD up"
"$NETLAB" up
echo
echo "== a node1 pod pings a node2 pod, across flannel.1 (VXLAN)"
echo "\$ $CMD exec business-manager-666f454f7f-7l86b -- ping -c 3 172.30.9.2"
"$NETLAB" exec business-manager-666f454f7f-7l86b -- ping -c 3 172.30.9.2
echo
echo "\$ $CMD exec node1 -- ip route"
"$NETLAB" exec node1 -- ip route
echo "\$ $CMD exec node1 -- ip neigh show dev flannel.1"
"$NETLAB" exec node1 -- ip neigh show dev flannel.1
echo "\$ $CMD exec node1 -- bridge fdb show dev flannel.1"
"$NETLAB" exec node1 -- bridge fdb show dev flannel.1
echo
echo "== figure 1 over HTTPS through node2, the certificate checked against the lab's own CA"
ca=$(mktemp --suffix=.crt)
"$NETLAB" get secret business-manager-tls -o json |
  "$(dirname "$NETLAB")/python" -c 'import base64, json, sys; sys.stdout.buffer.write(base64.b64decode(json.load(sys.stdin)["items"][0]["data"]["ca.crt"]))' >"$ca"
echo "\$ $CMD exec client -- curl -s --cacert ca.crt --resolve business-manager.default:31522:192.168.0.22 https://business-manager.default:31522/api/v1/product/list"
"$NETLAB" exec client -- curl -s --cacert "$ca" --resolve business-manager.default:31522:192.168.0.22 \
  https://business-manager.default:31522/api/v1/product/list | head -c 400; echo
rm -f "$ca"
echo
echo "The seed lab is running. Explore it with '$CMD get pods -A -o wide', '$CMD exec node1 -- bash',"
echo "'$CMD capture node1:eth0 -c 5 udp port 8472'; remove it with '$CMD down'."
