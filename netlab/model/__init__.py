"""The cluster as data: the objects a Kubernetes user writes."""
from netlab.model.objects import (  # noqa: F401
    Cluster, Deployment, Endpoints, EndpointAddress, EndpointPort, Host, Node, Pod,
    Service, ServicePort,
)
