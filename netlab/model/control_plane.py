"""What the API server and the controllers do to a cluster before anything reaches the
kernel (pure): admit the services (addresses and ports), schedule pods and bring
deployments to their replicas, validate, and write the Endpoints."""
from __future__ import annotations

from netlab.model import controller, services
from netlab.model.endpoints import derive_endpoints
from netlab.model.objects import Cluster
from netlab.model.validate import validate


def admit(c: Cluster, now: float) -> Cluster:
    services.admit_all(c)
    controller.schedule(c)
    controller.scale(c, now)
    validate(c)
    c.endpoints = derive_endpoints(c)
    return c
