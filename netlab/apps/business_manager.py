"""business-manager: answers the product list by asking data-product, by name.

    netlab-business-manager [--port 8080] [--upstream http://data-product:50051]

GET /api/v1/product/list -> data-product's answer plus {"business_manager": {pod, ip, node},
"caller": {ip, forwarded_for}} (the ingress pod's address, and the client nginx names).
The name resolves through the pod's resolv.conf (the cluster DNS), the address is a
ClusterIP, and kube-proxy's rules pick the data-product pod.
"""
from __future__ import annotations

import argparse
import json
import sys
import urllib.request

from netlab.apps.http import me, peer, serve


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="netlab-business-manager", description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--upstream", default="http://data-product:50051")
    a = p.parse_args(argv)

    def product_list(request) -> dict:
        with urllib.request.urlopen(f"{a.upstream}/api/v1/product/list", timeout=5) as r:
            body = json.load(r)
        return {"products": body["products"], "data_product": body["served_by"], "business_manager": me(),
                "caller": peer(request)}

    serve(a.port, {"/api/v1/product/list": product_list})
    return 0


if __name__ == "__main__":
    sys.exit(main())
