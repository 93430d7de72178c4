"""The nginx ingress controller: nginx.conf from the cluster's Ingresses."""
from netlab.ingress.config import (
    CLASS, CONTROLLER, Backend, Paths, Route, Server, locations, match, ours, pem_files, render,
    server_for, servers,
)

__all__ = ["CLASS", "CONTROLLER", "Backend", "Paths", "Route", "Server", "locations", "match", "ours",
           "pem_files", "render", "server_for", "servers"]
