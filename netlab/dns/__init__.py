"""Cluster DNS: the records the Kubernetes DNS specification asks for, and a server."""
