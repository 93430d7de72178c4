"""The `netlab` command: the same verbs a Kubernetes user types, on a lab of real kernel objects."""
from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time

from typing import TYPE_CHECKING

from netlab import prog
from netlab.errors import NetlabError
from netlab.state import LabRecord, labs
from netlab.teardown import default_name

if TYPE_CHECKING:
    from netlab.lab import Lab
    from netlab.model.objects import Cluster

# Commands import what they use when they run: reading a lab (get, down) must not pay
# for netlink, packets and certificates (pyroute2, scapy, cryptography).


class Parser(argparse.ArgumentParser):
    _intermixing = False

    def error(self, message):  # one line, not argparse's usage block
        raise SystemExit(f"{self.prog}: {message} (see {self.prog} --help)")

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        """Options may stand anywhere, as kubectl allows (`get pods -n kube-system NAME`):
        a command's positionals are read around its options, unless it passes the rest of
        its line on (exec's command) or holds sub-commands."""
        passes_on = any(a.nargs in (argparse.REMAINDER, argparse.PARSER) for a in self._actions)
        if passes_on or self._intermixing:
            return super().parse_known_args(args, namespace)
        self._intermixing = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._intermixing = False


def _say(line: str) -> None:
    try:
        # a message names the command as it was called; what `get` shows is left as it is
        print(prog.named(line) if line.lstrip().startswith("netlab:") else line, flush=True)
    except BrokenPipeError:    # piped into head: the work goes on, the output stops
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _lab(args) -> "Lab":
    """The lab a command changes."""
    from netlab.lab import Lab
    return _existing(Lab(default_name(args.name)))


def _record(args) -> LabRecord:
    """The lab a command reads."""
    return _existing(LabRecord(default_name(args.name)))


def _existing(lab):
    if not lab.dir.exists():
        raise NetlabError(f"lab {lab.name!r} is not running (netlab up --name {lab.name})")
    return lab


# ---- commands ---------------------------------------------------------------------

def cmd_up(args) -> int:
    from netlab.lab import Lab
    from netlab.model import topology
    from netlab.model.seed import seed_cluster
    from netlab.model.validate import lab_name
    name = lab_name(args.name or "seed")
    now = time.time()
    if not args.file:
        cluster = seed_cluster(name, now)
    elif topology.is_topology(args.file):
        cluster = topology.load(args.file, name, now, warn=_warn)
    else:       # Kubernetes manifests: on the seed's nodes, DNS and ingress controller
        from netlab.model import store
        from netlab.model.seed import platform
        cluster = platform(name, now)
        store.apply(cluster, _manifests(args.file, "up"))
    if args.file:       # what the user's deployments and pods run (netlab's own have no image)
        _warn_images([("Deployment", d) for d in cluster.deployments]
                     + [("Pod", p) for p in cluster.pods if not p.owner])
    if args.flannel_mode:
        cluster.flannel_mode = args.flannel_mode
    if args.probability_decimals:
        cluster.probability_decimals = args.probability_decimals
    if args.dns_upstream:
        cluster.dns_upstream = args.dns_upstream
    if args.policy:
        cluster.policy = args.policy
    if args.proxy:
        cluster.proxy_mode = args.proxy
    if args.iptables_backend:
        cluster.iptables_backend = args.iptables_backend
    _say(f"netlab: bringing up lab {name!r}: {len(cluster.nodes)} nodes, {len(cluster.pods)} pods, "
         f"flannel {cluster.flannel_mode} mode, kube-proxy {cluster.proxy_mode} ({cluster.iptables_backend} "
         f"iptables), NetworkPolicy {_POLICY_MODES[cluster.policy]}")
    _policy_warning(cluster, cluster.network_policies)
    t = time.monotonic()
    lab = Lab.up(cluster, out=_say)
    _say(f"netlab: lab {name!r} is up in {time.monotonic() - t:.2f}s "
         f"(netlab exec --name {name} TARGET -- CMD; netlab down --name {name})\n")
    _print_pods(lab, lab.cluster(), cluster.pods, wide=True, all_ns=True)
    _api_start(name)
    return _figure1(lab)


def _api_start(name: str) -> None:
    from netlab.api import lifecycle
    try:
        port = lifecycle.start(name)
    except (NetlabError, OSError) as e:     # the lab is up all the same
        _warn(f"the lab's API server did not start: {e} (netlab api start --name {name})")
        return
    named = "" if name == "seed" else f" --name {name}"
    _say(f"\nnetlab: the lab's Kubernetes API is on https://127.0.0.1:{port}:\n"
         f"  export KUBECONFIG=$(netlab kubeconfig{named}); kubectl get pods -A -o wide")


def cmd_api(args) -> int:
    from netlab.api import lifecycle
    lab = _record(args)
    if args.action == "start":
        _api_start(lab.name)
    else:
        _say(f"netlab: the API server of lab {lab.name!r} " + ("stopped" if lifecycle.stop(lab.name)
                                                                else "was not running"))
    return 0


def cmd_kubeconfig(args) -> int:
    from netlab.api import lifecycle
    name = _record(args).name
    if args.merge is None:
        _say(str(lifecycle.kubeconfig(name)))
        return 0
    from pathlib import Path
    default = (os.environ.get("KUBECONFIG") or "").split(os.pathsep)[0] or os.path.expanduser("~/.kube/config")
    path = lifecycle.merge_into(name, Path(args.merge or default))
    _say(f"netlab: context {name!r} merged into {path} and made current (kubectl config use-context to go back)")
    return 0


def _figure1(lab: LabRecord) -> int:
    """The walk-through's request from outside, when the lab has its pieces (the seed does)."""
    from netlab import walkthrough
    c = lab.cluster()
    if not walkthrough.applies(c):
        return 0
    node_ip = c.nodes[0].ip
    _say(f"\nnetlab: the walk-through's figure 1, from outside the cluster:\n"
         f"  netlab exec{'' if lab.name == 'seed' else ' --name ' + lab.name} client -- "
         f"{walkthrough.command(node_ip)}")
    try:
        answer = walkthrough.request(c, node_ip)
    except NetlabError as e:     # the lab is up all the same: say what failed, and where to look
        _warn(f"{e} (netlab get pods -A; netlab logs POD)")
        return 0
    _say(walkthrough.path(c, node_ip, answer))
    return 0


def cmd_down(args) -> int:
    from netlab import teardown
    lab = _record(args)
    t = time.monotonic()
    teardown.down(lab.name)
    _say(f"netlab: lab {lab.name!r} removed in {time.monotonic() - t:.2f}s")
    return 0


def cmd_clean(args) -> int:
    from netlab.lab import clean
    removed = clean(out=_say, only=args.name)
    nothing = f"nothing of lab {args.name!r} to clean" if args.name else "nothing to clean"
    _say(f"netlab: removed {len(removed)} lab(s)" if removed else f"netlab: {nothing}")
    return 0


def cmd_status(args) -> int:
    from netlab import output
    from netlab.model.objects import Cluster
    names = [args.name] if args.name else labs()
    if not names:
        _say("No labs are running.")
        return 0
    rows = []
    for name in names:
        lab = LabRecord(name)
        try:
            state = lab.state()
        except (NetlabError, ValueError):
            rows.append([name, "unknown (no state: an up in progress, or crashed: netlab clean)",
                         "-", "-", "-", "-", "-"])
            continue
        c = Cluster.from_dict(state["cluster"])
        procs = lab.procs()
        from netlab.kernel import process
        alive = sum(process.alive(p) for p in procs)
        down = lab.agents_down() if state.get("status") == "ready" else {}
        shown = f"degraded: {'; '.join(down.values())}" if down else state.get("status", "?")
        rows.append([name, shown, str(len(c.nodes)), str(len(c.pods)),
                     f"{alive}/{len(procs)}", c.flannel_mode, output.age(state.get("created", 0))])
    _say(output.table(["LAB", "STATUS", "NODES", "PODS", "PROCESSES", "FLANNEL", "AGE"], rows))
    return 0


def _pod_status(lab: LabRecord):
    from netlab import pod_phase
    return pod_phase.status(lab)


def _pod_phase(lab: LabRecord):
    """A pod's phase, readiness, restarts and waiting reason (None if it runs), as -o json and describe say."""
    from netlab import pod_phase
    return pod_phase.phase(lab)


def _print_pods(lab: LabRecord, c: Cluster, pods, wide: bool, all_ns: bool) -> None:
    from netlab import output
    _say(output.pod_rows(c, pods, wide, all_ns, _pod_status(lab), time.time()))


KINDS = {"po": "pods", "pod": "pods", "pods": "pods", "no": "nodes", "node": "nodes", "nodes": "nodes",
         "svc": "services", "service": "services", "services": "services",
         "ep": "endpoints", "endpoints": "endpoints",
         "deploy": "deployments", "deployment": "deployments", "deployments": "deployments",
         "ing": "ingresses", "ingress": "ingresses", "ingresses": "ingresses",
         "ingressclass": "ingressclasses", "ingressclasses": "ingressclasses",
         "secret": "secrets", "secrets": "secrets",
         "cm": "configmaps", "configmap": "configmaps", "configmaps": "configmaps",
         "netpol": "networkpolicies", "networkpolicy": "networkpolicies", "networkpolicies": "networkpolicies",
         "ev": "events", "event": "events", "events": "events"}
# the kinds that live in a namespace, as the model names them
NAMESPACED = {"pods": "Pod", "services": "Service", "endpoints": "Endpoints", "deployments": "Deployment",
              "ingresses": "Ingress", "secrets": "Secret", "configmaps": "ConfigMap",
              "networkpolicies": "NetworkPolicy"}


def _kind(word: str) -> str:
    if word not in KINDS:
        raise NetlabError(f"unknown resource type {word!r} (known: pods, nodes, services, endpoints, deployments, "
                          f"ingresses, ingressclasses, secrets, configmaps, networkpolicies, events)")
    return KINDS[word]


def _ingress_address(c: Cluster) -> str:
    """The ingress-nginx Service is a NodePort: the controller is reached on every node."""
    return ",".join(n.ip for n in c.nodes)


def _in_ns(items, args):
    found = [x for x in items if args.all_namespaces or x.namespace == (args.namespace or "default")]
    if getattr(args, "resource", None):
        found = [x for x in found if x.name == args.resource]
        if not found:
            raise NetlabError(f'{_kind(args.kind)} "{args.resource}" not found')
    return found


def cmd_get(args) -> int:
    from netlab import output
    from netlab.model.objects import Cluster
    lab = _record(args)
    state = lab.state()
    c = Cluster.from_dict(state["cluster"])
    kind, now, fmt = _kind(args.kind), time.time(), args.output
    structured = fmt in ("json", "yaml")
    if kind == "pods":
        pods = _in_ns(c.pods, args)
        if structured:
            items = [output.pod_object(c, p, *_pod_phase(lab)(p)) for p in pods]
            _say(output.as_list(items, fmt))
        elif not pods:
            _say(f"No resources found in {args.namespace or 'default'} namespace.")
        else:
            _print_pods(lab, c, pods, fmt == "wide", args.all_namespaces)
    elif kind == "nodes":
        if args.resource:
            c.nodes = [n for n in c.nodes if n.name == args.resource]
        down = lab.nodes_down(c)
        if structured:
            _say(output.as_list([output.node_object(n, state["created"], down.get(n.name)) for n in c.nodes], fmt))
        else:
            _say(output.node_rows(c, c.nodes, fmt == "wide", state["created"], now, platform.release(), down))
    elif kind == "services":
        svcs = _in_ns(c.services, args)
        if structured:
            _say(output.as_list([output.service_object(s, now) for s in svcs], fmt))
        else:
            _say(output.service_rows(svcs, fmt == "wide", args.all_namespaces, now))
    elif kind == "endpoints":
        eps = _in_ns(c.endpoints, args)
        if structured:
            _say(output.as_list([output.endpoints_object(e) for e in eps], fmt))
        else:
            created = {(s.namespace, s.name): s.created for s in c.services}
            _say(output.endpoints_rows(eps, args.all_namespaces, created, now))
    elif kind == "ingresses":
        ings = _in_ns(c.ingresses, args)
        address = _ingress_address(c)
        if structured:
            _say(output.as_list([output.ingress_object(i, address) for i in ings], fmt))
        else:
            _say(output.ingress_rows(ings, args.all_namespaces, now, address, wide=fmt == "wide"))
    elif kind == "ingressclasses":
        classes = [x for x in c.ingress_classes if not args.resource or x.name == args.resource]
        if args.resource and not classes:
            raise NetlabError(f'ingressclasses "{args.resource}" not found')
        if structured:
            _say(output.as_list([output.ingressclass_object(x, state["created"]) for x in classes], fmt))
        else:
            _say(output.ingressclass_rows(classes, now, state["created"]))
    elif kind == "secrets":
        found = _in_ns(c.secrets, args)
        _say(output.as_list([output.secret_object(x) for x in found], fmt) if structured
             else output.secret_rows(found, args.all_namespaces, now))
    elif kind == "configmaps":
        found = _in_ns(c.config_maps, args)
        _say(output.as_list([output.configmap_object(x) for x in found], fmt) if structured
             else output.configmap_rows(found, args.all_namespaces, now))
    elif kind == "events":
        _get_events(lab, args, now)
    elif kind == "networkpolicies":
        found = _in_ns(c.network_policies, args)
        if structured:
            _say(output.as_list([output.networkpolicy_object(x) for x in found], fmt))
        elif not found:
            _say(f"No resources found in {args.namespace or 'default'} namespace.")
        else:
            _say(output.networkpolicy_rows(found, args.all_namespaces, now))
    else:
        _say(output.deployment_rows(c, _in_ns(c.deployments, args), args.all_namespaces, now))
    return 0


def _events(lab) -> list[dict]:
    from netlab import events
    return events.live(events.fold(events.read(lab.dir)), time.time())


def _get_events(lab, args, now: float) -> None:
    from netlab import event_output, output
    from netlab.api import event_items
    ns = args.namespace or "default"
    found = [r for r in _events(lab) if args.all_namespaces or (r["namespace"] or "default") == ns]
    if args.resource:
        found = [r for r in found if r["name"] == args.resource]
        if not found:
            raise NetlabError(f'events "{args.resource}" not found')
    if args.output in ("json", "yaml"):
        _say(output.as_list([event_items.event_object(lab.name, r, event_items.involved_uid(lab.name, r, {}))
                             for r in found], args.output))
    elif not found:
        _say(f"No events found in {ns} namespace.")
    else:
        _say(event_output.rows(found, args.all_namespaces, args.output == "wide", now))


def cmd_describe(args) -> int:
    from netlab import output
    lab = _record(args)
    c = lab.cluster()
    kind = _kind(args.kind)
    if kind not in ("pods", "services", "ingresses", "secrets", "configmaps", "networkpolicies"):
        raise NetlabError(f"describe: {args.kind!r} is not supported "
                          "(known: pod, svc, ingress, secret, configmap, networkpolicy)")
    ns = args.namespace or "default"
    from netlab.model.store import LISTS
    objects = getattr(c, LISTS[NAMESPACED[kind]])
    obj = next((x for x in objects if x.name == args.resource and x.namespace == ns), None)
    if obj is None:
        raise NetlabError(f'{kind} "{args.resource}" not found in namespace {ns!r}')
    if kind == "pods":
        from netlab import event_output
        text = output.describe_pod(c, obj, *_pod_phase(lab)(obj))
        mine = event_output.of_pod(_events(lab), obj)
        if mine:            # kubectl's section in place of <none>
            text = text[:text.rindex("\nEvents:")] + "\n" + "\n".join(event_output.describe(mine, time.time()))
        _say(text)
    elif kind == "services":
        ep = next((e for e in c.endpoints if e.name == obj.name and e.namespace == ns), None)
        _say(output.describe_service(obj, ep))
    elif kind == "ingresses":
        _say(output.describe_ingress(obj, c.services, c.endpoints, _ingress_address(c)))
    elif kind == "secrets":
        _say(output.describe_secret(obj))
    elif kind == "networkpolicies":
        _say(output.describe_networkpolicy(obj))
    else:
        _say(output.describe_configmap(obj))
    return 0


def cmd_create(args) -> int:
    """kubectl create secret tls|generic: a Secret from files, literals, or a new certificate."""
    from netlab import tls
    from netlab.model import manifests
    from netlab.model.secrets import encode
    lab = _lab(args)
    ns = args.namespace or "default"
    if args.type == "tls":
        if args.self_signed and (args.cert or args.key):
            raise NetlabError("create secret tls: give --cert and --key, or --self-signed HOST, not both")
        if args.self_signed:
            values = tls.self_signed([h for h in args.self_signed.split(",") if h])
        elif args.cert and args.key:
            values = {"tls.crt": _read(args.cert), "tls.key": _read(args.key)}
            tls.check_pair(values["tls.crt"], values["tls.key"], f"{args.cert}, {args.key}")
        else:
            raise NetlabError("create secret tls: give --cert FILE --key FILE, or --self-signed HOST[,HOST...]")
        type_ = "kubernetes.io/tls"
    else:
        values = {}
        for item in args.from_literal or []:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise NetlabError(f"create secret generic: --from-literal {item!r} must be KEY=VALUE")
            values[key] = value.encode()
        for item in args.from_file or []:
            key, sep, path = item.partition("=")
            key, path = (key, path) if sep else (os.path.basename(item), item)
            values[key] = _read(path)
        if not values:
            raise NetlabError("create secret generic: give --from-literal KEY=VALUE or --from-file [KEY=]PATH")
        type_ = "Opaque"
    # checked as the same Secret in a manifest would be (name, keys, size)
    parsed = manifests.parse_document({"apiVersion": "v1", "kind": "Secret", "type": type_, "data": encode(values),
                                       "metadata": {"name": args.secret, "namespace": ns}}, "create secret")
    assert parsed is not None          # a Secret is never a kind parse_document skips
    secret = parsed.obj

    def change(c):
        if any((s.namespace, s.name) == (ns, secret.name) for s in c.secrets):
            raise NetlabError(f'secrets "{secret.name}" already exists in namespace {ns!r}')
        c.secrets.append(secret)
    lab.update(change, warn=_warn)
    _say(f"secret/{secret.name} created")
    return 0


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise NetlabError(f"{path}: {e.strerror}") from None


def cmd_logs(args) -> int:
    from netlab import layout
    lab = _record(args)
    c = lab.cluster()
    ns = resolve_target(c, args.pod, args.namespace)
    pod = next((p for p in c.pods if layout.pod_ns(c.name, p) == ns), None)
    if pod is None:
        raise NetlabError(f"logs: {args.pod!r} is not a pod")
    path = lab.dir.logs / layout.log_file(layout.pod_proc(pod.namespace, pod.name))
    if not path.exists():
        raise NetlabError(f"logs: pod {pod.name!r} runs no process, so it has no logs")
    with open(path, errors="replace") as f:
        sys.stdout.write(f.read())
        sys.stdout.flush()
        while args.follow:          # -f: as tail -f, until Ctrl-C
            line = f.readline()
            if line:
                sys.stdout.write(line)
                sys.stdout.flush()
            else:
                time.sleep(0.1)
    return 0


def _report(added, removed) -> None:
    for p in removed:
        _say(f"pod/{p.name} deleted")
    for p in added:
        _say(f"pod/{p.name} created ({p.ip} on {p.node})")


def _warn(line: str) -> None:
    _err(f"netlab: warning: {line}")


def _err(line: str) -> None:
    """A line on stderr, naming the command as it was called (netlab or kube-netlab)."""
    print(prog.named(line), file=sys.stderr)


def _warn_images(objects: list) -> None:
    """One warning: images are not pulled, and what each (kind, Pod or Deployment) runs instead."""
    from netlab.model import images
    line = images.warning([images.of(kind, obj) for kind, obj in objects])
    if line:
        _warn(line)


def _manifests(path: str, verb: str) -> list:
    """Every object of a file, a directory of manifests or standard input (`-`): all, or none
    on an error; warnings shown."""
    from netlab.model import manifests, yamlio
    items = manifests.load(path)
    if not items:
        raise NetlabError(f"{yamlio.name(path)}: no objects passed to {verb}")
    for m in items:
        for w in m.warnings:
            _warn(w)
    return items


_POLICY_MODES = {"none": "not enforced (flannel alone)", "enforce": "enforced (netlab's Calico)"}


def _policy_warning(c, policies) -> None:
    """flannel alone stores NetworkPolicies and enforces none: say so once."""
    if policies and c.policy == "none":
        listed = ", ".join(f"{p.namespace}/{p.name}" for p in policies)
        _warn(f"lab {c.name!r} does not enforce NetworkPolicy (policy: none, flannel alone): {listed} "
              f"stored, with no effect on traffic (netlab up --policy enforce enforces them)")


def cmd_apply(args) -> int:
    from netlab.model import store
    lab = _lab(args)
    from netlab.model.manifests import last_applied
    items = [last_applied(m) for m in _manifests(args.file, "apply")]
    _warn_images([(m.kind, m.obj) for m in items if m.kind in ("Pod", "Deployment")])
    _policy_warning(lab.cluster(), [m.obj for m in items if m.kind == "NetworkPolicy"])
    seen: dict = {}

    def change(c):          # c is the cluster the control plane then admits: what apply compares with
        seen.update(before=store.snapshot(c, items), after=c)
        store.apply(c, items)
    added, removed = lab.update(change, warn=_warn)
    for m, outcome in zip(items, store.outcomes(seen["before"], seen["after"], items)):
        _say(f"{m.kind.lower()}/{m.key[2]} {outcome}")
    _report(added, removed)
    return 0


def cmd_delete(args) -> int:
    from netlab.model import store
    lab = _lab(args)
    if args.file:
        items = _manifests(args.file, "delete")
        missing = []
        added, removed = lab.update(lambda c: missing.extend(store.delete(c, items)), warn=_warn)
        for m in items:
            if f"{m.kind} {m.key[1]}/{m.key[2]}" not in missing:
                _say(f"{m.kind.lower()}/{m.key[2]} deleted")
        for what in missing:
            _err(f"netlab: {what} not found")
        _report(added, [p for p in removed if p.owner])
        return 1 if missing else 0
    if not args.kind or not args.resource:
        raise NetlabError("delete: give -f FILE, or KIND NAME (e.g. delete pod NAME)")
    kind, ns = _kind(args.kind), args.namespace or "default"
    if kind not in NAMESPACED:
        raise NetlabError(f"delete: cannot delete {kind} (known: {', '.join(NAMESPACED)})")

    def change(c):
        if not store.remove(c, NAMESPACED[kind], ns, args.resource):
            raise NetlabError(f'{kind} "{args.resource}" not found in namespace {ns!r}')
    added, removed = lab.update(change, warn=_warn)
    _say(f"{kind[:-1]}/{args.resource} deleted")
    _report(added, [p for p in removed if p.name != args.resource])
    return 0


def cmd_scale(args) -> int:
    lab = _lab(args)
    target = args.target
    if "/" in target:
        kind, _, target = target.partition("/")
    else:
        kind, target = target, args.resource
    if _kind(kind) != "deployments" or not target:
        raise NetlabError("scale: give deployment NAME (or deploy/NAME) --replicas N")
    ns = args.namespace or "default"

    def change(c):
        from netlab.model import store
        try:
            store.scale(c, ns, target, args.replicas)
        except store.NotFoundError as e:
            raise NetlabError(str(e)) from None
        except store.ModelError as e:
            raise NetlabError(f"scale: --replicas: {str(e).removeprefix('spec.replicas: ')}") from None
    added, removed = lab.update(change, warn=_warn)
    _say(f"deployment.apps/{target} scaled")
    _report(added, removed)
    return 0


def resolve_target(c: Cluster, target: str, namespace: str | None) -> str:
    """TARGET of exec/capture -> namespace name: a node, an outside host, or a pod."""
    from netlab import layout
    if target in {n.name for n in c.nodes} | {h.name for h in c.hosts} | set(layout.RESERVED):
        return layout.host_ns(c.name, target)
    if target.startswith(("deploy/", "deployment/")):
        dep = target.split("/", 1)[1]
        pods = [p for p in c.pods if p.owner == dep and p.namespace == (namespace or "default")]
        if not pods:
            raise NetlabError(f"deployment {dep!r} has no pods in namespace {namespace or 'default'!r}")
        return layout.pod_ns(c.name, sorted(pods, key=lambda p: p.name)[0])
    matches = [p for p in c.pods if p.name == target]
    if namespace:
        matches = [p for p in matches if p.namespace == namespace]
    elif len(matches) > 1:
        matches = [p for p in matches if p.namespace == "default"]
    if len(matches) != 1:
        raise NetlabError(f"no node, host or pod named {target!r}"
                          + (f" in namespace {namespace!r}" if namespace else "")
                          + f" in lab {c.name!r} (netlab get pods -A)")
    return layout.pod_ns(c.name, matches[0])


def cmd_exec(args) -> int:
    from netlab import layout
    lab = _record(args)
    if not args.command:
        raise NetlabError("exec: no command given (netlab exec TARGET -- CMD...)")
    c = lab.cluster()
    ns = resolve_target(c, args.target, args.namespace)
    pod = next((p for p in c.pods if layout.pod_ns(c.name, p) == ns), None)
    rec = lab.state()["procs"].get(layout.pod_proc(pod.namespace, pod.name)) if pod else None
    if rec:
        from netlab.kernel import process
        init = process.pod_init(process.Proc(**rec)) if process.alive(process.Proc(**rec)) else None
        if init:
            # into the pod's namespaces, as kubectl exec enters a container: its network, its
            # mounts (resolv.conf, volumes, the ingress's nginx.conf), its processes, as root
            os.execvp("nsenter", ["nsenter", f"--target={init}", "--mount", "--net", "--pid", "--ipc", "--",
                                  *args.command])
    # ip netns exec bind-mounts /etc/netns/NS/* over /etc: the pod's own resolv.conf
    os.execvp("ip", ["ip", "netns", "exec", ns, *args.command])


def cmd_trace(args) -> int:
    from netlab.trace import report, run, target
    lab = _record(args)
    c = lab.cluster()
    src = target.source(c, args.source, args.namespace)
    dst = target.destination(c, args.target, src, args.proto, args.port, args.namespace)
    t = run.trace(c, src, dst)
    if args.output == "json":
        _say(report.as_json(t))
    elif args.output == "html":
        out = args.file or "trace.html"
        with open(out, "w") as f:
            f.write(report.page(t, _trace_picture(c, t)))
        _say(report.text(t) + f"\nnetlab: wrote {out}")
    else:
        _say(report.text(t))
    return 0 if t.died is None else 1


def _trace_picture(c, t) -> str:
    """The lab drawn by netlab graph with the trace's path in red (empty if Graphviz is missing)."""
    from netlab import graph
    ids = list(t.path)
    try:
        marked = ids + list(t.marks) + [f"{a}->{b}" for a, b in zip(ids, ids[1:])]
        return graph.render(graph.dot(c, marked), "svg").decode()
    except (NetlabError, OSError):
        return ""


def cmd_export(args) -> int:
    from pathlib import Path
    from netlab import export
    if len(args.where) > 2:
        raise NetlabError("export: give DIR, or LAB DIR")
    if len(args.where) == 2:
        args.name, out = args.where
    else:
        out = args.where[0]
    lab = _record(args)
    _say(f"netlab: exporting lab {lab.name!r} to {out}")
    counts = export.export(lab, Path(out), [Path(p) for p in args.pcap or []], say=_say)
    _say(f"netlab: wrote {out} ({', '.join(f'{k} {v}' for k, v in counts.items())})")
    return 0


def cmd_node(args) -> int:
    from netlab.model.objects import Node
    lab = _lab(args)
    if args.action == "add":
        c = lab.cluster()
        node = Node(args.node, args.ip or _next_node_ip(c), args.pod_cidr or _next_subnet(c))
        t = time.monotonic()
        pods = lab.add_node(node, args.pods, out=_say)
        _say(f"netlab: node {node.name} ({node.ip}, pods {node.pod_cidr}) added in {time.monotonic() - t:.2f}s")
        if pods:
            _print_pods(lab, lab.cluster(), pods, wide=True, all_ns=False)
    else:
        lab.remove_node(args.node, out=_say)
        _say(f"netlab: node {args.node} removed")
    return 0


def _next_node_ip(c: Cluster) -> str:
    from ipaddress import IPv4Address, IPv4Network      # the underlay is IPv4, as the walk-through's
    taken = {IPv4Address(x) for x in [c.router] + [n.ip for n in c.nodes] + [h.ip for h in c.hosts]}
    start = max(IPv4Address(n.ip) for n in c.nodes)
    for addr in IPv4Network(c.underlay_cidr).hosts():
        if addr > start and addr not in taken:
            return str(addr)
    raise NetlabError(f"node add: no free address in underlay {c.underlay_cidr}; give --ip")


def _next_subnet(c: Cluster) -> str:
    from ipaddress import ip_network
    plen = ip_network(c.nodes[0].pod_cidr).prefixlen
    used = [ip_network(n.pod_cidr) for n in c.nodes]
    for net in ip_network(c.cluster_cidr).subnets(new_prefix=plen):
        if not any(net.overlaps(u) for u in used):
            return str(net)
    raise NetlabError(f"node add: no free /{plen} left in {c.cluster_cidr}; give --pod-cidr")


def cmd_capture(args) -> int:
    from netlab.probe.cli import capture_many_command, split_capture_args
    lab = _record(args)
    wheres, bpf = split_capture_args([args.where, *args.filter])   # TARGET:IFACE words, the rest is the filter
    c = lab.cluster()
    ifaces = [(f"{target}:{iface}", resolve_target(c, target, args.namespace), iface) for target, iface in wheres]
    return capture_many_command(ifaces, args.count, args.write, args.timeout, bpf)


def cmd_tour(args) -> int:
    from netlab.tour_runner import tour_command
    return tour_command(args, _say, _err)


def cmd_probe(args) -> int:
    from netlab.probe.matrix_cli import probe_command
    return probe_command(args, _say, _err)


def cmd_graph(args) -> int:
    from netlab import graph
    fmt = os.path.splitext(args.output or "")[1].lstrip(".").lower()
    if args.output and fmt not in graph.FORMATS:
        raise NetlabError(f"graph: -o {args.output!r}: the file must end in .svg, .png or .dot")
    lab = _record(args)
    text = graph.dot(lab.cluster())
    if not args.output:
        _say(text.rstrip("\n"))
        return 0
    data = text.encode() if fmt == "dot" else graph.render(text, fmt)     # nothing written if dot fails
    with open(args.output, "wb") as f:
        f.write(data)
    _say(f"netlab: lab {lab.name!r} drawn in {args.output}")
    return 0


def cmd_proxy(args) -> int:
    from netlab.model.validate import PROXY_MODES
    if args.action == "show":
        c = _record(args).cluster()
        if not args.node:
            _say(f"{c.proxy_mode}\t{PROXY_MODES[c.proxy_mode]}, on {c.iptables_backend} iptables")
            return 0
        sys.stdout.write(_proxy_rules(c, args.node))
        return 0
    if not args.mode:
        raise NetlabError(f"proxy set: give the flavour: {' | '.join(PROXY_MODES)}")
    lab = _lab(args)
    was = lab.cluster().proxy_mode
    t = time.monotonic()
    lab.update(lambda c: setattr(c, "proxy_mode", args.mode), warn=_warn)
    _say(f"netlab: lab {lab.name!r}: kube-proxy {was} -> {args.mode} on every node "
         f"in {time.monotonic() - t:.2f}s" + (" (unchanged)" if was == args.mode else ""))
    return 0


def _proxy_rules(c, node: str) -> str:
    """A node's kube-proxy rules as its kernel holds them: kube-proxy's chains (and the jumps
    into them) from iptables-save, or its nftables table."""
    from netlab import layout
    from netlab.kernel import iptables
    from netlab.kube_proxy.rules import BUILTIN, is_ours
    if node not in {n.name for n in c.nodes}:
        raise NetlabError(f"proxy show: {node!r} is not a node of lab {c.name!r} "
                          f"({', '.join(n.name for n in c.nodes)})")
    ns = layout.node_ns(c.name, node)
    if c.proxy_mode == "nftables":
        return iptables.run_in(ns, ["nft", "list", "table", "ip", "kube-proxy"])
    out, table = [], None
    for line in iptables.run_in(ns, [f"iptables-{c.iptables_backend}-save"]).splitlines():
        words = line.split()
        if line.startswith("*"):
            table = line[1:]
            out.append(line)
        elif line == "COMMIT" or (line.startswith(":") and is_ours(words[0][1:])):
            out.append(line)
        elif line.startswith("-A ") and table in BUILTIN and (
                is_ours(words[1]) or (words[1] in BUILTIN[table] and "-j" in words
                                      and is_ours(words[words.index("-j") + 1]))):
            out.append(line)
    return "\n".join(out) + "\n"


def cmd_render(args) -> int:
    """kube-proxy's output for manifests, without a lab (and without root)."""
    from netlab.kube_proxy import view
    from netlab.model import manifests, yamlio
    objects = [(f"{yamlio.name(f)}: document {i}", doc) for f in manifests.files(args.file)
               for i, doc in enumerate(yamlio.read(f, all_documents=True), 1)]
    ports = view.from_objects(objects)
    node = view.NodeConfig(args.node_name, tuple(args.node_ip), pod_cidr=args.pod_cidr,
                           cluster_cidr=args.cluster_cidr, localhost_nodeports=args.localhost_nodeports,
                           masquerade_bit=args.masquerade_bit,
                           node_port_addresses=tuple(args.nodeport_addresses or ()))
    if args.flavour == "iptables":
        from netlab.kube_proxy import iptables_current
        sys.stdout.write(iptables_current.restore_text(iptables_current.build(ports, node)))
    else:
        from netlab.kube_proxy import nftables
        sys.stdout.write(nftables.full_text(nftables.build(ports, node)))
    return 0


def _cidr(text: str) -> str:
    from ipaddress import ip_network
    try:
        return str(ip_network(text, strict=False))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a CIDR (a.b.c.d/n)") from None


def _ipv4(text: str) -> str:
    from ipaddress import IPv4Address
    try:
        return str(IPv4Address(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an IPv4 address") from None


def _bit(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 31:
        raise argparse.ArgumentTypeError(f"{text!r} must be a bit number 0-31")
    return int(text)


# ---- the parser -------------------------------------------------------------------

def count(text: str) -> int:
    """A number of pods or replicas (argparse type): a whole number >= 0."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a whole number >= 0")
    return value


def parser() -> Parser:
    p = Parser(prog=prog.name(), description="A Kubernetes networking lab built from real Linux kernel "
               "objects: namespaces, bridges, VXLAN, iptables.")
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=Parser, metavar="COMMAND")

    def cmd(name, fn, help, name_help="the lab (default: the one running, else seed)"):
        sp = sub.add_parser(name, help=help, description=help)
        sp.set_defaults(fn=fn)
        sp.add_argument("--name", help=name_help)
        return sp

    up = cmd("up", cmd_up, "build a lab (default: the seed cluster) and show its pods")
    up.add_argument("-f", "--file", help="a topology file, or Kubernetes manifests (a file, a directory or - for "
                                         "standard input: they run on the seed's nodes, DNS and ingress); "
                                         "default: the seed cluster")
    up.add_argument("--flannel-mode", choices=("routes", "seed"),
                    help="routes: current flannel; seed: the walk-through's on-demand neighbours")
    up.add_argument("--policy", choices=("none", "enforce"),
                    help="NetworkPolicy: none (the seed's flannel stores policies and ignores them) or enforce "
                         "(netlab's Calico: per-pod chains and ipsets on every node); default: the topology "
                         "file's policy, else none")
    up.add_argument("--proxy", choices=("iptables-seed", "iptables", "nftables"),
                    help="kube-proxy's flavour: iptables-seed (the walk-through's, 2018), iptables or nftables "
                         "(today's proxiers); default: the topology file's proxyMode, else iptables-seed")
    up.add_argument("--iptables-backend", choices=("legacy", "nft"),
                    help="the nodes' iptables: legacy (x_tables, the seed's) or nft (iptables-nft, today's "
                         "distributions'); default: the topology file's iptablesBackend, else legacy")
    up.add_argument("--probability-decimals", type=int, choices=(5, 10),
                    help="kube-proxy's probabilities: 5 as the walk-through's, 10 as kube-proxy 1.17+")
    up.add_argument("--dns-upstream", metavar="IP[:PORT]",
                    help="let the cluster DNS forward other names there (default: it forwards nothing)")
    cmd("down", cmd_down, "remove a lab and everything it made")
    cmd("clean", cmd_clean, "remove a lab's leftovers (every lab's without --name), even after a crash",
        name_help="only this lab (default: every lab)")
    cmd("status", cmd_status, "list labs and their state")

    get = cmd("get", cmd_get, "show the lab's objects, as kubectl get does")
    get.add_argument("kind", help="pods | nodes | svc | endpoints | deployments | ingress | ingressclass | "
                                  "secret | configmap | networkpolicy (netpol)")
    get.add_argument("resource", nargs="?", metavar="NAME", help="only this one")
    get.add_argument("-n", "--namespace", help="namespace (default: default)")
    get.add_argument("-A", "--all-namespaces", action="store_true", help="every namespace")
    get.add_argument("-o", "--output", choices=("wide", "json", "yaml"), help="output format")

    desc = cmd("describe", cmd_describe, "describe an object, as kubectl describe does (Secrets: sizes, never values)")
    desc.add_argument("kind", help="pod | svc | ingress | secret | configmap | networkpolicy (netpol)")
    desc.add_argument("resource", metavar="NAME")
    desc.add_argument("-n", "--namespace", help="namespace (default: default)")

    ap = cmd("apply", cmd_apply, "create or change objects from Kubernetes manifests")
    ap.add_argument("-f", "--file", required=True, help="a YAML file (several documents), a directory, "
                                                               "or - for standard input")

    de = cmd("delete", cmd_delete, "delete objects: -f FILE, or KIND NAME")
    de.add_argument("kind", nargs="?", help="pod | svc | endpoints | deployment | ingress | secret | configmap")
    de.add_argument("resource", nargs="?", metavar="NAME")
    de.add_argument("-f", "--file", help="a YAML file, a directory of manifests, or - for standard input")
    de.add_argument("-n", "--namespace", help="namespace (default: default)")

    cr = cmd("create", cmd_create, "create a Secret, as kubectl create secret does")
    cr.add_argument("what", choices=("secret",), help="secret")
    cr.add_argument("type", choices=("tls", "generic"), help="tls: certificate and key; generic: any values")
    cr.add_argument("secret", metavar="NAME")
    cr.add_argument("-n", "--namespace", help="namespace (default: default)")
    cr.add_argument("--cert", help="tls: PEM certificate file")
    cr.add_argument("--key", help="tls: PEM private key file")
    cr.add_argument("--self-signed", metavar="HOST[,HOST...]",
                    help="tls: let netlab make a CA and a certificate for these hosts (ca.crt is in the Secret)")
    cr.add_argument("--from-literal", action="append", metavar="KEY=VALUE", help="generic: a value")
    cr.add_argument("--from-file", action="append", metavar="[KEY=]PATH", help="generic: a file's content")

    sc = cmd("scale", cmd_scale, "set a deployment's replicas")
    sc.add_argument("target", help="deployment NAME, or deploy/NAME")
    sc.add_argument("resource", nargs="?", metavar="NAME")
    sc.add_argument("--replicas", type=count, required=True)
    sc.add_argument("-n", "--namespace", help="namespace (default: default)")

    ex = cmd("exec", cmd_exec, "run a command inside a node, pod or outside host")
    ex.add_argument("-n", "--namespace", help="the pod's namespace (default: default)")
    ex.add_argument("target", help="node1, node2, client, db, router, a pod name, or deploy/NAME")
    ex.add_argument("command", nargs=argparse.REMAINDER, help="-- CMD [ARGS...]")

    tr = cmd("trace", cmd_trace, "follow one real request hop by hop, with the kernel's evidence; exit 1 if it "
                                 "died (DNS, routes, the iptables rules that matched, conntrack, flannel.1's "
                                 "neighbour and FDB, the VXLAN packet on both nodes, the arrival)")
    tr.add_argument("source", metavar="FROM", help="a pod, a node (node1) or an outside host (client)")
    tr.add_argument("target", metavar="TO", help="a pod; a Service (data-product, data-product.default:50051); "
                                                 "ADDRESS:PORT; a NodePort URL (http://192.168.0.21:30799/); an "
                                                 "Ingress host (business-manager.default)")
    tr.add_argument("-n", "--namespace", help="the pods' namespace (default: default)")
    tr.add_argument("--proto", choices=("tcp", "udp", "icmp"), default="tcp", help="default tcp")
    tr.add_argument("--port", type=int, help="the destination port (default: the Service's or pod's first)")
    tr.add_argument("-o", "--output", choices=("text", "json", "html"), default="text", help="default text")
    tr.add_argument("--file", help="-o html: the page to write (default trace.html)")

    exp = cmd("export", cmd_export, "write a lab's logs, objects, ip/bridge/iptables/ipset/conntrack state of "
                                    "every namespace and pcaps into a directory (for a failed test's artifacts)")
    exp.add_argument("where", nargs="+", metavar="[LAB] DIR", help="the directory to write (new or empty); "
                                                                   "LAB: as --name")
    exp.add_argument("--pcap", action="append", metavar="FILE", help="a capture to include; repeatable")

    node = cmd("node", cmd_node, "add a node to a running lab, or remove one")
    node.add_argument("action", choices=("add", "remove"))
    node.add_argument("node", help="node name, e.g. node3")
    node.add_argument("--ip", help="underlay address (default: the next free one)")
    node.add_argument("--pod-cidr", help="pod subnet (default: the next free one)")
    node.add_argument("--pods", type=count, default=0, help="start this many pods on the new node")

    lg = cmd("logs", cmd_logs, "print a pod's output (its process's stdout and stderr, restarts included)")
    lg.add_argument("pod", metavar="POD")
    lg.add_argument("-f", "--follow", action="store_true", help="keep printing new output")
    lg.add_argument("-n", "--namespace", help="the pod's namespace (default: default)")

    cap = cmd("capture", cmd_capture, "capture packets on interfaces of lab namespaces, merged by time")
    cap.add_argument("where", metavar="TARGET:IFACE", help="e.g. node1:eth0, node2:flannel.1, client:eth0; "
                     "more may follow (every word TARGET:IFACE is one)")
    cap.add_argument("-n", "--namespace", help="the pod's namespace (default: default)")
    cap.add_argument("-c", "--count", type=int, help="stop after this many packets")
    cap.add_argument("-t", "--timeout", type=float, help="stop after this many seconds")
    cap.add_argument("-w", "--write", help="also write the packets to this pcap file")
    cap.add_argument("filter", nargs="*", help="a tcpdump (BPF) filter, e.g. udp port 8472")

    tour = cmd("tour", cmd_tour, "a guided tour of the walk-through's chapters on the live seed lab: each step "
               "explains, shows the command and runs it (Enter: next step, q: quit); exit 1 naming a failed step",
               name_help="the lab (default: seed, else the one seed lab running)")
    tour.add_argument("--yes", action="store_true", help="run every step without waiting for Enter")
    tour.add_argument("--skip", action="append", metavar="STEP", help="leave this step out: its number or short "
                      "name (e.g. --skip trace); repeatable")

    pr = cmd("probe", cmd_probe, "connect every pod to every pod (real TCP/UDP) and print the reachability "
             "matrix, as Kubernetes' e2e network policy tests do; exit 1 if it differs from --expect, 2 on bad input")
    pr.add_argument("-n", "--namespace", help="only the pods of this namespace (default: every namespace)")
    pr.add_argument("-A", "--all-namespaces", action="store_true", help="the pods of every namespace (the default)")
    pr.add_argument("-l", "--selector", metavar="KEY=VALUE[,...]",
                    help="only pods with these labels (KEY=VALUE, KEY!=VALUE, comma separated: all must hold)")
    pr.add_argument("--port", action="append", metavar="PORT[/PROTO]",
                    help="a port to probe, tcp (the default), udp or sctp; repeat for several (default: 80/tcp)")
    pr.add_argument("--host", action="append", metavar="NAME",
                    help="an outside host of the lab (client, db) as one more column; repeatable")
    pr.add_argument("--timeout", metavar="SECONDS", default="1",
                    help="how long a cell may take to connect before it counts as blocked (default: 1)")
    pr.add_argument("--expect", metavar="FILE",
                    help="compare with this file (the printed format: PROTO/PORT sections, or one matrix for every "
                         "port; . connected, X blocked) and print the cells that differ")

    api = cmd("api", cmd_api, "start or stop the lab's Kubernetes API server (netlab up starts it)")
    api.add_argument("action", choices=("start", "stop"))
    kc = cmd("kubeconfig", cmd_kubeconfig, "write a kubeconfig for the lab's API server and print its path "
             "(export KUBECONFIG=$(netlab kubeconfig))")
    kc.add_argument("--merge", nargs="?", const="", metavar="FILE",
                    help="instead, add the lab's context to your own kubeconfig (FILE, default: $KUBECONFIG's "
                         "first file or ~/.kube/config) and make it current")

    px = cmd("proxy", cmd_proxy, "show kube-proxy's flavour, or switch every node to another (the old "
             "flavour's rules and tables go, as kube-proxy's cleanup of other modes does)")
    px.add_argument("action", choices=("show", "set"))
    px.add_argument("mode", nargs="?", choices=("iptables-seed", "iptables", "nftables"),
                    help="for set: iptables-seed (the walk-through's), iptables or nftables (today's)")
    px.add_argument("--node", metavar="NODE",
                    help="for show: print that node's kube-proxy rules as its kernel holds them (its chains "
                         "in iptables-save, or its nftables table)")

    rd = sub.add_parser("render", help="print what kube-proxy hands the kernel for some manifests, without a lab "
                        "and without root", description="print, without a lab and without root, exactly what "
                        "kube-proxy's proxier would hand to iptables-restore (or nft -f) on one node for the "
                        "Services and EndpointSlices of some manifests, taken as kube-proxy receives them (no "
                        "defaulting, no allocation)")
    rd.set_defaults(fn=cmd_render, needs_root=False)
    rd.add_argument("component", choices=("kube-proxy",))
    rd.add_argument("--flavour", choices=("iptables", "nftables"), default="iptables",
                    help="today's iptables proxier (default) or its nftables proxier")
    rd.add_argument("-f", "--file", required=True, help="manifests: a file, a directory or - for standard input")
    rd.add_argument("--node-name", required=True, help="the node kube-proxy runs on (its local endpoints)")
    rd.add_argument("--node-ip", required=True, action="append", type=_ipv4, metavar="IP",
                    help="the node's address (repeat for more; the first is its primary IP)")
    rd.add_argument("--pod-cidr", type=_cidr, metavar="CIDR",
                    help="the node's pod range: traffic from it is the cluster's own (--detect-local-mode=NodeCIDR)")
    rd.add_argument("--cluster-cidr", type=_cidr, metavar="CIDR",
                    help="the cluster's pod range, if no --pod-cidr (--detect-local-mode=ClusterCIDR)")
    rd.add_argument("--localhost-nodeports", action=argparse.BooleanOptionalAction, default=True,
                    help="iptables: NodePorts answer on 127.0.0.1 too (kube-proxy's default: yes)")
    rd.add_argument("--masquerade-bit", type=_bit, default=14, metavar="N",
                    help="the fwmark bit of packets to masquerade (default: 14, mark 0x4000)")
    rd.add_argument("--nodeport-addresses", action="append", type=_cidr, metavar="CIDR",
                    help="NodePorts only on the node's addresses in CIDR (repeatable; default: every address)")

    gr = cmd("graph", cmd_graph, "draw the lab as the walk-through's figure 2: nodes, pods, docker0, flannel.1 "
             "(VXLAN), the underlay and Services (DOT on standard output without -o)")
    gr.add_argument("-o", "--output", metavar="FILE",
                    help="write FILE.svg or FILE.png (drawn by Graphviz's dot) or FILE.dot (the DOT text)")
    return p


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args, extra = p.parse_known_args(argv)
    if extra and args.cmd == "capture" and not any(x.startswith("-") for x in extra):
        args.filter += extra      # a filter written after the options, as with tcpdump
    elif extra:
        p.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.cmd == "exec" and args.command[:1] == ["--"]:
        args.command = args.command[1:]
    if os.geteuid() != 0 and getattr(args, "needs_root", True):
        _err("netlab: must be run as root: it creates network namespaces, links and iptables rules "
             "(try: sudo netlab ...)")
        return 1
    os.umask(0o077)         # what the lab writes (state, rules, leases) is root's alone unless it says
    try:
        return args.fn(args) or 0
    except NetlabError as e:
        _err(f"netlab: {e}")
        return 1
    except (OSError, subprocess.SubprocessError) as e:     # the system said no: one line, not a trace
        _err(f"netlab: {e}")
        return 1
    except KeyboardInterrupt:
        _err("netlab: interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
