"""The way in: the seed's request from outside through the nginx ingress, Ingress objects
applied to a running lab, TLS from Secrets, reloads that drop nothing."""
import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from cryptography import x509

from netlab import layout
from netlab.model.secrets import decode

from helpers import apply, connect, eventually, listdir, netlab, proc_read, sh, unique

HOST = "business-manager.default"
NODES = ("192.168.0.21", "192.168.0.22")
URL = "/api/v1/product/list"


def _client(lab):
    return layout.host_ns(lab.name, "client")


def _secret(lab, name, ns="default"):
    return decode(next(s for s in lab.cluster().secrets if (s.namespace, s.name) == (ns, name)))


def _curl(lab, host, url, *extra):
    """(status, body) of a request from the client host."""
    r = sh(_client(lab), "curl", "-sS", "-o", "-", "-w", "\n%{http_code}", "-H", f"Host: {host}", *extra, url,
           check=False)
    body, _, status = r.stdout.rpartition("\n")
    return int(status or 0), body


def _pods(lab, prefix):
    return {p.name for p in lab.cluster().pods if p.name.startswith(prefix)}


def _check_answer(lab, body):
    answer = json.loads(body)
    assert [p["name"] for p in answer["products"]] == ["apple", "banana", "cherry", "durian"]
    assert answer["business_manager"]["pod"] in _pods(lab, "business-manager-")
    assert answer["data_product"]["pod"] in _pods(lab, "data-product-")
    # the business-manager pod was called by the ingress pod (172.30.76.2 on node1), which names
    # the client it saw (the NodePort rules masquerade it to the receiving node's address); the
    # seed's kube-proxy masquerades that call too (its --cluster-cidr is the service network), so
    # the pod sees node1's docker0 address, or node1's flannel.1 one when it runs on node2
    on_node1 = answer["business_manager"]["node"] == "node1"
    assert answer["caller"]["ip"] == ("172.30.76.1" if on_node1 else "172.30.76.0"), answer
    assert answer["caller"]["forwarded_for"].startswith("172.30.")


def test_the_seed_request_from_outside_through_both_nodes_http_and_https(seed_lab, tmp_path):
    ca = tmp_path / "ca.crt"
    ca.write_bytes(_secret(seed_lab, "business-manager-tls")["ca.crt"])
    other_ca = tmp_path / "other.crt"
    from netlab.tls import self_signed
    other_ca.write_bytes(self_signed([HOST], issuer="another CA")["ca.crt"])
    for node in NODES:
        status, body = _curl(seed_lab, HOST, f"http://{node}:30799{URL}")
        assert status == 200, body
        _check_answer(seed_lab, body)
        resolve = ("--resolve", f"{HOST}:31522:{node}")
        status, body = _curl(seed_lab, HOST, f"https://{HOST}:31522{URL}", "--cacert", str(ca), *resolve)
        assert status == 200, body
        _check_answer(seed_lab, body)
        # a CA that did not sign the lab's certificate is refused: curl really checks it
        r = sh(_client(seed_lab), "curl", "-sS", "--cacert", str(other_ca), *resolve, f"https://{HOST}:31522{URL}",
               check=False)
        assert r.returncode == 60, r.stderr


CERT = textwrap.dedent("""
    import socket, ssl, sys
    ctx = ssl.create_default_context(cafile=sys.argv[3])
    with ctx.wrap_socket(socket.create_connection((sys.argv[1], 31522), timeout=5), server_hostname=sys.argv[2]) as s:
        print(ssl.DER_cert_to_PEM_cert(s.getpeercert(True)))
""")


def test_https_presents_the_secrets_certificate(seed_lab, tmp_path):
    secret = _secret(seed_lab, "business-manager-tls")
    ca = tmp_path / "ca.crt"
    ca.write_bytes(secret["ca.crt"])
    r = sh(_client(seed_lab), sys.executable, "-c", CERT, NODES[1], HOST, str(ca))
    served = x509.load_pem_x509_certificate(r.stdout.encode())
    assert served == x509.load_pem_x509_certificate(secret["tls.crt"])


def test_an_unknown_host_gets_404_from_the_default_backend(seed_lab):
    for node in NODES:
        status, _ = _curl(seed_lab, "nobody.example", f"http://{node}:30799/")
        assert status == 404


def test_nginx_conf_is_the_rendered_file_inside_the_controller_pod(seed_lab):
    pod = next(p.name for p in seed_lab.cluster().pods if p.name.startswith("nginx-ingress-controller-"))
    r = netlab("exec", "--name", seed_lab.name, "-n", "ingress-nginx", pod, "--", "cat", "/etc/nginx/nginx.conf")
    assert "server_name business-manager.default;" in r.stdout
    for var in ("$namespace", "$ingress_name", "$service_name", "$service_port", "$location_path"):
        assert f"set {var}" in r.stdout
    assert "proxy_pass http://10.254.80.22:80;" in r.stdout


def _whoami_app(name, ns="default"):
    """A Deployment and Service of netlab-whoami answering on 8080 behind port 80."""
    return textwrap.dedent(f"""
        apiVersion: apps/v1
        kind: Deployment
        metadata: {{name: {name}, namespace: {ns}}}
        spec:
          replicas: 1
          selector: {{matchLabels: {{app: {name}}}}}
          template:
            metadata: {{labels: {{app: {name}}}}}
            spec:
              containers:
              - name: web
                command: [netlab-whoami, --port, "8080"]
                ports: [{{containerPort: 8080, name: http}}]
        ---
        apiVersion: v1
        kind: Service
        metadata: {{name: {name}, namespace: {ns}}}
        spec:
          selector: {{app: {name}}}
          ports: [{{port: 80, targetPort: 8080}}]
        ---
    """)


# the walk-through's Ingress as SEED.md has it, with the application it routes to
WALKTHROUGH = str(Path(__file__).parents[2] / "examples" / "walkthrough")


def test_the_walkthroughs_ingress_applies_verbatim_and_routes(seed_lab):
    f = WALKTHROUGH
    netlab("apply", "-f", f, "--name", seed_lab.name)
    try:
        status, body = _curl(seed_lab, "business-user.ns-jo", f"http://{NODES[1]}:30799/")
        assert status == 200 and body.startswith("business-user-"), body
        r = netlab("get", "ingress", "-n", "ns-jo", "--name", seed_lab.name)
        assert "business-user" in r.stdout and "business-user.ns-jo" in r.stdout
    finally:
        netlab("delete", "-f", f, "--name", seed_lab.name)
    status, _ = _curl(seed_lab, "business-user.ns-jo", f"http://{NODES[1]}:30799/")
    assert status == 404


PATHS = """\
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: paths, namespace: default}
spec:
  ingressClassName: nginx
  rules:
  - host: paths.test
    http:
      paths:
      - {path: /foo, pathType: Exact, backend: {service: {name: exact, port: {number: 80}}}}
      - {path: /foo, pathType: Prefix, backend: {service: {name: prefix, port: {number: 80}}}}
      - {path: /aaa/bbb, pathType: Prefix, backend: {service: {name: bbb, port: {number: 80}}}}
      - {path: /, pathType: Prefix, backend: {service: {name: root, port: {number: 80}}}}
"""


def test_prefix_and_exact_paths_behave_as_the_ingress_spec_examples(seed_lab, tmp_path):
    f = tmp_path / "paths.yaml"
    f.write_text("".join(_whoami_app(n) for n in ("exact", "prefix", "bbb", "root")) + PATHS)
    netlab("apply", "-f", str(f), "--name", seed_lab.name)
    try:
        expected = {"/foo": "exact", "/foo/": "prefix", "/foo/bar": "prefix", "/foobar": "root",
                    "/aaa/bbb": "bbb", "/aaa/bbb/": "bbb", "/aaa/bbb/ccc": "bbb", "/aaa/bbbxyz": "root",
                    "/aaa": "root", "/ccc": "root", "/": "root"}
        got = {}
        for path in expected:
            status, body = _curl(seed_lab, "paths.test", f"http://{NODES[0]}:30799{path}")
            got[path] = body.split("-")[0] if status == 200 else status
        assert got == expected
    finally:
        netlab("delete", "-f", str(f), "--name", seed_lab.name)


LOAD = textwrap.dedent("""
    import concurrent.futures, http.client, json, sys
    def one(_):
        try:
            c = http.client.HTTPConnection(sys.argv[1], 30799, timeout=30)
            c.request("GET", "/delay/1500", headers={"Host": "slow.test"})
            r = c.getresponse(); r.read(); return r.status
        except Exception as e:
            return repr(e)
    with concurrent.futures.ThreadPoolExecutor(200) as pool:
        print(json.dumps(list(pool.map(one, range(200)))))
""")


def _ingress(name, hosts):
    rules = "".join(f"""
  - host: {h}
    http:
      paths:
      - {{path: /, pathType: Prefix, backend: {{service: {{name: slow, port: {{number: 80}}}}}}}}""" for h in hosts)
    return f"""apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {{name: {name}, namespace: default}}
spec:
  rules:{rules}
"""


def test_an_ingress_change_is_live_at_once_and_requests_in_flight_all_complete(seed_lab, tmp_path):
    f = tmp_path / "slow.yaml"
    f.write_text(_whoami_app("slow") + _ingress("slow", ["slow.test"]))
    netlab("apply", "-f", str(f), "--name", seed_lab.name)
    load = subprocess.Popen(["ip", "netns", "exec", _client(seed_lab), sys.executable, "-c", LOAD, NODES[0]],
                            stdout=subprocess.PIPE, text=True)
    try:
        ctl = next(p for p in seed_lab.cluster().pods if p.name.startswith("nginx-ingress-controller-"))
        ctl_ns = layout.pod_ns(seed_lab.name, ctl)
        # the 200 requests are held by nginx (each waits 1.5 s for its answer)...
        held = eventually(lambda: _established(ctl_ns, 80) >= 200 or load.poll() is not None, timeout=10, step=0.05)
        assert held and load.poll() is None, f"the requests never got in flight: {load.communicate()[0]}"
        # ...while an Ingress change re-renders nginx.conf and reloads nginx
        t = time.monotonic()
        apply(seed_lab.name, tmp_path, _ingress("slow", ["slow.test", "new.test"]))
        assert eventually(lambda: _curl(seed_lab, "new.test", f"http://{NODES[0]}:30799/")[0] == 200, timeout=1.0)
        print(f"change live after {time.monotonic() - t:.2f}s")
        out, _ = load.communicate(timeout=60)
        statuses = json.loads(out)
        assert statuses == [200] * 200, {str(s) for s in statuses}
    finally:
        load.kill()
        load.wait()
        netlab("delete", "-f", str(f), "--name", seed_lab.name)


def _established(ns, port):
    r = sh(ns, "ss", "-Htn", "state", "established", f"( sport = :{port} )", check=False)
    return len(r.stdout.splitlines())


SECRET = """\
apiVersion: v1
kind: Secret
metadata: {{name: rot, namespace: default}}
type: Opaque
stringData: {{password: {value}, user: shop}}
"""

READER = """\
apiVersion: v1
kind: Pod
metadata: {name: rot-reader, namespace: default}
spec:
  containers:
  - name: reader
    command: [sleep, "3600"]
    env:
    - name: PASSWORD
      valueFrom: {secretKeyRef: {name: rot, key: password}}
    envFrom:
    - {secretRef: {name: rot}, prefix: ROT_}
    volumeMounts:
    - {name: creds, mountPath: /etc/rot, readOnly: true}
  volumes:
  - name: creds
    secret: {secretName: rot}
"""


def _pod_proc(lab, key, name):
    """/proc/PID/NAME of the pod's main process (key "pod/NS/NAME"; the state names its shim).
    If the process the state names has gone by the time it is read, the state is read again:
    a restarted pod's new process counts, a pod without a process is a failure."""
    from netlab.kernel import process
    for _ in range(2):
        pid = process.pod_init(process.Proc(**lab.state()["procs"][key]))
        content = proc_read(pid, name) if pid else None
        if content:
            return content
    raise AssertionError(f"{key}: its process {pid} has gone")


def _environ(lab, key):
    environ = _pod_proc(lab, key, "environ")
    return dict(x.split(b"=", 1) for x in environ.split(b"\0") if b"=" in x)


def test_a_secret_reaches_env_and_files_and_a_rotation_reaches_the_file(seed_lab, tmp_path):
    name = seed_lab.name
    apply(name, tmp_path, SECRET.format(value="first-" + unique()) + "---\n" + READER)
    try:
        first = _secret(seed_lab, "rot")["password"].decode()
        env = _environ(seed_lab, "pod/default/rot-reader")
        assert env[b"PASSWORD"].decode() == first and env[b"ROT_user"] == b"shop"
        r = netlab("exec", "--name", name, "rot-reader", "--", "cat", "/etc/rot/password")
        assert r.stdout == first
        second = "second-" + unique()
        apply(name, tmp_path, SECRET.format(value=second))
        r = netlab("exec", "--name", name, "rot-reader", "--", "cat", "/etc/rot/password")
        assert r.stdout == second
        # the value never shows in get or describe; -o yaml has it base64-encoded, as kubectl
        shown = netlab("get", "secret", "rot", "--name", name).stdout + \
            netlab("describe", "secret", "rot", "--name", name).stdout
        assert second not in shown and "password" in shown
        import base64
        assert base64.b64encode(second.encode()).decode() in netlab("get", "secret", "rot", "-o", "yaml",
                                                                    "--name", name).stdout
    finally:
        netlab("delete", "pod", "rot-reader", "--name", name)
        netlab("delete", "secret", "rot", "--name", name)


def test_a_pod_waiting_for_its_secret_starts_once_the_secret_is_there(seed_lab, tmp_path):
    name = seed_lab.name
    apply(name, tmp_path, READER)
    try:
        r = netlab("get", "pod", "rot-reader", "--name", name)
        assert "CreateContainerConfigError" in r.stdout and "0/1" in r.stdout
        assert "secret default/rot not found" in netlab("logs", "rot-reader", "--name", name).stdout
        netlab("create", "secret", "generic", "rot", "--from-literal", "password=p1", "--from-literal", "user=u",
               "--name", name)
        r = netlab("get", "pod", "rot-reader", "--name", name)
        assert "Running" in r.stdout
        assert netlab("exec", "--name", name, "rot-reader", "--", "cat", "/etc/rot/password").stdout == "p1"
    finally:
        netlab("delete", "pod", "rot-reader", "--name", name)
        netlab("delete", "secret", "rot", "--name", name, check=False)


def _uid(lab, key):
    status = _pod_proc(lab, key, "status").decode()
    return int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1])


def test_a_pods_password_file_is_not_readable_by_another_pods_user(seed_lab):
    dp = next(p for p in seed_lab.cluster().pods if p.name.startswith("data-product-"))
    bm = next(p for p in seed_lab.cluster().pods if p.name.startswith("business-manager-"))
    dp_uid = _uid(seed_lab, f"pod/default/{dp.name}")
    bm_uid = _uid(seed_lab, f"pod/default/{bm.name}")
    assert 0 not in (dp_uid, bm_uid) and dp_uid != bm_uid
    path = f"/run/netlab/{seed_lab.name}/pods/default_{dp.name}/volumes/db-secret/password"

    def cat(pod, uid, file):
        return netlab("exec", "--name", seed_lab.name, pod, "--", "setpriv", f"--reuid={uid}", f"--regid={uid}",
                      "--clear-groups", "cat", file, check=False)
    # its own user reads it, at its mountPath and on the host's side
    mine = cat(dp.name, dp_uid, "/etc/db-secret/password")
    assert mine.returncode == 0 and mine.stdout.strip() == _secret(seed_lab, "mysql")["password"].decode()
    assert cat(dp.name, dp_uid, path).returncode == 0
    # another pod does not even see it (its /run is its own); nor could its user read it on the host
    theirs = cat(bm.name, bm_uid, path)
    assert theirs.returncode != 0 and "No such file or directory" in theirs.stderr
    import subprocess
    host = subprocess.run(["setpriv", f"--reuid={bm_uid}", f"--regid={bm_uid}", "--clear-groups", "cat", path],
                          capture_output=True, text=True)
    assert host.returncode != 0 and "Permission denied" in host.stderr
    # and its own user cannot change what the lab writes there (no link for root to follow)
    planted = netlab("exec", "--name", seed_lab.name, dp.name, "--", "setpriv", f"--reuid={dp_uid}",
                     f"--regid={dp_uid}", "--clear-groups", "ln", "-s", "/etc", path + "-link", check=False)
    assert planted.returncode != 0 and "Permission denied" in planted.stderr


def test_secret_values_stay_out_of_logs_and_world_readable_files(seed_lab):
    import os
    import stat
    password = _secret(seed_lab, "mysql")["password"]
    key = _secret(seed_lab, "business-manager-tls")["tls.key"]
    roots = [f"/run/netlab/{seed_lab.name}"] + [f"/etc/netns/{n}" for n in listdir("/etc/netns")
                                                  if n.startswith(f"{seed_lab.name}-")]
    for root in roots:
        for d, _, files in os.walk(root):
            for name in files:
                path = os.path.join(d, name)
                # the lab runs meanwhile: a file written by rename (a temporary name) may have gone
                # since the listing; gone, it holds nothing
                try:
                    st = os.stat(path)
                    if not stat.S_ISREG(st.st_mode) or "/db/data" in path:
                        continue
                    with open(path, "rb") as f:
                        content = f.read()
                except FileNotFoundError:
                    continue
                holds = password in content or key.strip() in content
                if "/logs/" in path:
                    assert not holds, f"a log holds a secret: {path}"
                if holds:
                    assert st.st_mode & 0o077 == 0, f"{path} holds a secret and is mode {oct(st.st_mode)}"
    for cmd in (("get", "secret", "-A"), ("describe", "secret", "mysql"), ("get", "pods", "-A", "-o", "yaml")):
        out = netlab(*cmd, "--name", seed_lab.name).stdout
        assert password.decode() not in out


def _snapshot(lab):
    c = lab.cluster()
    snap = {"state": lab.state()["cluster"]}
    for n in c.nodes:
        ns = layout.node_ns(lab.name, n.name)
        snap[f"{n.name} rules"] = sh(ns, "iptables-legacy-save", "-t", "nat").stdout.split("\n", 2)[2]
        snap[f"{n.name} links"] = sh(ns, "ip", "-o", "link").stdout
    snap["netns"] = sorted(x for x in subprocess.run(["ip", "netns"], capture_output=True, text=True).stdout.split()
                           if x.startswith(lab.name))
    ctl = next(p for p in c.pods if p.name.startswith("nginx-ingress-controller-"))
    snap["nginx.conf"] = open(f"/etc/netns/{layout.pod_ns(lab.name, ctl)}/nginx/nginx.conf").read()
    return snap


def _strip_counters(rules):
    """iptables-save without its packet counters and time stamps."""
    import re
    return re.sub(r"\[\d+:\d+\]", "", "\n".join(x for x in rules.splitlines() if not x.startswith("#")))


def test_invalid_manifests_change_nothing(seed_lab, tmp_path):
    before = _snapshot(seed_lab)
    bad_ingress = _whoami_app("half") + PATHS.replace("pathType: Exact", "pathType: Bogus")
    bad_service = _whoami_app("half2") + "apiVersion: v1\nkind: Service\nmetadata: {name: x}\n" \
        "spec: {clusterIP: 10.99.0.1, ports: [{port: 80}]}\n"
    # valid for the API server, but its mount point could only be made in a layer over /
    bad_mount = _whoami_app("half3") + SECRET.format(value="x") + "---\n" + \
        READER.replace("mountPath: /etc/rot", "mountPath: /rot/creds")
    for i, text in enumerate((bad_ingress, bad_service, bad_mount)):
        f = tmp_path / f"bad{i}.yaml"
        f.write_text(text)
        r = netlab("apply", "-f", str(f), "--name", seed_lab.name, check=False)
        assert r.returncode == 1, (r.returncode, r.stderr)         # refused by netlab, not a crash
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
        if i == 0:
            assert f"{f}: document 3: spec.rules[0].http.paths[0].pathType" in r.stderr
        elif i == 1:
            assert "10.99.0.1" in r.stderr
        else:
            assert "mountPath /rot/creds" in r.stderr and "hiding the whole file system" in r.stderr
    after = _snapshot(seed_lab)
    for key in before:
        if key.endswith("rules"):
            before[key], after[key] = _strip_counters(before[key]), _strip_counters(after[key])
        assert after[key] == before[key], key


def test_up_ends_with_the_request_from_outside_and_its_path():
    name = unique("u")
    try:
        r = netlab("up", "--name", name, timeout=120)
        out = r.stdout
        assert "client 192.168.0.100" in out
        assert "-> nginx-ingress-controller-546bfbff9-hpwsz 172.30.76.2 (ingress nginx)" in out
        assert "answer: 4 products (apple, banana, cherry, durian)" in out
        assert "-> business-manager-666f454f7f-" in out and "-> data-product-6664c6dcb9-" in out
    finally:
        netlab("down", "--name", name, check=False)


SECURE = """\
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: secure, namespace: default}
spec:
  tls: [{hosts: [secure.test], secretName: secure-tls}]
  rules:
  - host: secure.test
    http:
      paths: [{path: /, pathType: Prefix, backend: {service: {name: secure, port: {number: 80}}}}]
"""


def test_a_created_certificate_serves_https_and_plain_http_is_redirected(seed_lab, tmp_path):
    name = seed_lab.name
    netlab("create", "secret", "tls", "secure-tls", "--self-signed", "secure.test", "--name", name)
    f = tmp_path / "secure.yaml"
    f.write_text(_whoami_app("secure") + SECURE)
    netlab("apply", "-f", str(f), "--name", name)
    try:
        # ssl-redirect, as ingress-nginx does for a host with a certificate
        r = sh(_client(seed_lab), "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}",
               "-H", "Host: secure.test", f"http://{NODES[0]}:30799/some/path?x=1")
        assert r.stdout == "308 https://secure.test/some/path?x=1"
        ca = tmp_path / "ca.crt"
        ca.write_bytes(_secret(seed_lab, "secure-tls")["ca.crt"])
        status, body = _curl(seed_lab, "secure.test", "https://secure.test:31522/", "--cacert", str(ca),
                             "--resolve", f"secure.test:31522:{NODES[1]}")
        assert status == 200 and body.startswith("secure-"), body
    finally:
        netlab("delete", "-f", str(f), "--name", name)
        netlab("delete", "secret", "secure-tls", "--name", name)


def test_up_from_a_directory_of_manifests():
    name = unique("m")
    try:
        r = netlab("up", "-f", WALKTHROUGH, "--name", name, timeout=120)
        assert "business-user-" in r.stdout and "nginx-ingress-controller-" in r.stdout
        r = sh(layout.host_ns(name, "client"), "curl", "-sS", "-H", "Host: business-user.ns-jo", f"http://{NODES[0]}:30799/")
        assert r.stdout.startswith("business-user-")
    finally:
        netlab("down", "--name", name, check=False)


CONFIG_AND_SLICE = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: shop-config, namespace: default}
data: {greeting: hello, app.conf: "listen 8080\\n"}
---
apiVersion: v1
kind: Pod
metadata: {name: config-reader, namespace: default}
spec:
  containers:
  - name: reader
    command: [sleep, "3600"]
    env:
    - name: GREETING
      valueFrom: {configMapKeyRef: {name: shop-config, key: greeting}}
    volumeMounts: [{name: conf, mountPath: /etc/shop}]
  volumes:
  - name: conf
    configMap: {name: shop-config, items: [{key: app.conf, path: conf/app.conf}]}
---
apiVersion: v1
kind: Service
metadata: {name: db-slice, namespace: default}
spec:
  ports: [{port: 3306, name: mysql}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: db-slice-1
  namespace: default
  labels: {kubernetes.io/service-name: db-slice}
addressType: IPv4
endpoints: [{addresses: [192.168.0.103]}]
ports: [{name: mysql, port: 3306, protocol: TCP}]
"""


def test_configmaps_and_endpointslices_from_manifests(seed_lab, tmp_path):
    name = seed_lab.name
    f = tmp_path / "cs.yaml"
    f.write_text(CONFIG_AND_SLICE)
    netlab("apply", "-f", str(f), "--name", name)
    try:
        assert _environ(seed_lab, "pod/default/config-reader")[b"GREETING"] == b"hello"
        r = netlab("exec", "--name", name, "config-reader", "--", "cat", "/etc/shop/conf/app.conf")
        assert r.stdout == "listen 8080\n"
        # the selector-less Service gets its Endpoints from the slice: it reaches the db host's MariaDB
        svc = next(s for s in seed_lab.cluster().services if s.name == "db-slice")
        ep = next(e for e in seed_lab.cluster().endpoints if e.name == "db-slice")
        assert [a.ip for a in ep.addresses] == ["192.168.0.103"] and [p.port for p in ep.ports] == [3306]
        pod = next(p for p in seed_lab.cluster().pods if p.name.startswith("business-manager-"))
        r = connect(layout.pod_ns(name, pod), f"{svc.cluster_ip}:3306", "--count", "3")
        assert r["ok"] == 3 and r["by"] == {"mysql": 3}, r
    finally:
        netlab("delete", "-f", str(f), "--name", name)
