"""flannel's VXLAN backend: the flannel.1 VTEP per node, its routes, neighbours and FDB."""

DEVICE = "flannel.1"
VNI = 1
PORT = 8472          # flannel's default, not IANA's 4789
OVERHEAD = 50        # outer Ethernet 14 + IP 20 + UDP 8 + VXLAN 8
