"""netlab: a Kubernetes networking lab built from real Linux kernel objects."""
