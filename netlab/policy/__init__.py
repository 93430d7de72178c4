"""NetworkPolicy enforcement: what flannel alone does not do.

A lab's `policy` says who enforces it: `none` (the seed's flannel: policies are stored and
listed and have no effect) or `enforce` (netlab's Calico: felix's iptables layout in each
node's filter table, pods' addresses in ipsets).

- evaluate: who may reach whom, read from the policies alone (the spec's meaning);
- names: the chains' and ipsets' names, as felix derives them;
- rules: the cluster -> one node's chains and ipsets (pure; the dataplane applies them with
  kube-proxy's rules, one iptables-restore per node).
"""
