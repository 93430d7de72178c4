"""The walk-through's figure 1, from outside: the request a new user sees work after `up`.

    client -> node:30799 (NodePort) -> ingress nginx -> business-manager Service -> a pod
           -> data-product (by name, DNS) -> a pod, maybe on the other node -> mysql -> db
"""
from __future__ import annotations

import http.client
import json

from netlab import layout
from netlab.cni.bridge import bridge_address
from netlab.errors import NetlabError
from netlab.ingress import controller as ingress_controller
from netlab.kernel import netns
from netlab.model.objects import Cluster

HOST, PATH, NODE_PORT = "business-manager.default", "/api/v1/product/list", 30799


def applies(c: Cluster) -> bool:
    """The seed's pieces are there: a client host, the Ingress for the host, its NodePort."""
    return (any(h.name == "client" for h in c.hosts) and bool(c.nodes)
            and any(r.host == HOST for i in c.ingresses for r in i.rules)
            and any(p.node_port == NODE_PORT for s in c.services for p in s.ports))


def command(node_ip: str) -> str:
    return f"curl -s -H 'Host: {HOST}' http://{node_ip}:{NODE_PORT}{PATH}"


def _get(node_ip: str) -> tuple[int, dict]:
    conn = http.client.HTTPConnection(node_ip, NODE_PORT, timeout=10)
    try:
        conn.request("GET", PATH, headers={"Host": HOST})
        r = conn.getresponse()
        body = r.read()
    finally:
        conn.close()
    try:
        return r.status, json.loads(body)
    except ValueError:
        return r.status, {"error": body.decode(errors="replace").strip()[:200]}


def request(c: Cluster, node_ip: str) -> dict:
    """Send the request from the client host (inside its namespace) and return the answer."""
    try:
        status, body = netns.run_in(layout.host_ns(c.name, "client"), _get, node_ip)
    except (OSError, http.client.HTTPException) as e:
        raise NetlabError(f"the request from client to {node_ip}:{NODE_PORT} failed: {e}") from None
    if not isinstance(body, dict):
        body = {"error": repr(body)[:200]}
    if status != 200 or not {"products", "business_manager", "data_product"} <= set(body):
        raise NetlabError(f"the request from client to {node_ip}:{NODE_PORT} answered {status}: "
                          f"{body.get('error', body)}")
    return body


def _node_address(c: Cluster, ip: str) -> str:
    """"node1's docker0" when ip is a node's own address on the pod network, else ""."""
    for n in c.nodes:
        if ip == bridge_address(n).split("/")[0]:
            return f"{n.name}'s docker0"
        if ip == n.vtep_ip:
            return f"{n.name}'s flannel.1"
    return ""


def path(c: Cluster, node_ip: str, answer: dict) -> str:
    """The hops the answer tells of, with the names a user finds in `netlab get`."""
    pods = {p.ip: p for p in c.pods}
    svc = {s.name: s for s in c.services if s.namespace == "default"}
    node = next((n.name for n in c.nodes if n.ip == node_ip), node_ip)
    client = next(h for h in c.hosts if h.name == "client")
    caller = answer.get("caller", {}).get("ip", "?")
    masqueraded = _node_address(c, caller)
    controller = next((p for p in c.pods if ingress_controller.is_controller(p)), None)
    if caller in pods or not (masqueraded and controller):
        ingress, seen = (pods[caller].name if caller in pods else caller), caller
        note = ""
    else:       # kube-proxy masqueraded the ingress pod's connection to the Service
        ingress, seen = controller.name, controller.ip
        note = f" (called from {caller}, {masqueraded}: masqueraded by kube-proxy)"
    bm, dp = answer["business_manager"], answer["data_product"]
    hops = [f"client {client.ip}", f"{node} {node_ip}:{NODE_PORT} (NodePort)", f"{ingress} {seen} (ingress nginx)"]
    if "business-manager" in svc:
        hops.append(f"business-manager {svc['business-manager'].cluster_ip}:80 (Service)")
    hops.append(f"{bm['pod']} {bm['ip']} on {bm['node']}{note}")
    if "data-product" in svc:
        hops.append(f"data-product {svc['data-product'].cluster_ip}:50051 (Service, by DNS name)")
    hops.append(f"{dp['pod']} {dp['ip']} on {dp['node']}")
    db = next((h for h in c.hosts if h.name == "db"), None)
    if "mysql" in svc and db:
        hops.append(f"mysql {svc['mysql'].cluster_ip}:3306 (Service, Endpoints by hand) -> db {db.ip}")
    names = ", ".join(p["name"] for p in answer["products"])
    return "\n".join(["  " + hops[0]] + [f"    -> {h}" for h in hops[1:]]
                     + [f"  answer: {len(answer['products'])} product{'' if len(answer['products']) == 1 else 's'}"
                        f" ({names})"])
