"""A lab's Kubernetes API endpoint, read path: discovery, get, list, watch, Tables and pods'
logs, so that the real kubectl and client libraries read the lab (netlab-apiserver).

selectors.py   labelSelector and fieldSelector (pure)
resources.py   the kinds served, discovery documents, Status errors, Table columns (pure)
objects.py     the lab's record -> API objects and their Table cells
store.py       the objects with resourceVersions, and the events a watch sends
server.py      HTTPS on 127.0.0.1 (and inside the lab for pods), bearer token; the program the lab runs
auth.py        who a token is (the lab's admin, a service account) and what it may do (pure)
incluster.py   the API inside the lab: its address on the first node, the certificate's names, what
               every pod gets (service-account files, KUBERNETES_* variables)
files.py       its certificate, token and port, made once per lab
lifecycle.py   started and stopped as a process of the lab; kubeconfig
"""
