"""The CNI bridge plugin: docker0 per node, a veth per pod, host-local IPAM."""
