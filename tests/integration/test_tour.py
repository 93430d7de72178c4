"""netlab tour on a live seed lab: every step runs for real and shows what the walk-through shows."""
from netlab.tour import CHAPTERS

from helpers import netlab


# what each chapter's real output holds on the seed
MARKERS = [
    "172.30.76.7   192.168.0.21",                              # 1: a pod's IP and its node's
    "data-product       ClusterIP   10.254.116.224",           # 1: a ClusterIP
    "172.30.76.0/24 dev docker0",                              # 2: node1's route to its pods
    "inet 172.30.76.1/24 scope global docker0",
    "1 received",                                              # 2: node1 pod -> node2 pod
    "172.30.9.2 lladdr ",                                      # 2: the neighbour that ping made
    "dst 192.168.0.22 self permanent",                         # 2: node2's VTEP in the FDB
    "-A KUBE-SVC-45TXGSBX3LGQQRTB -m statistic --mode random --probability 0.33332999982 -j KUBE-SEP-",
    "-j DNAT --to-destination 172.30.9.2:50051",               # 3: a KUBE-SEP of data-product
    "nameserver 10.254.0.2",                                   # 4
    "10.254.116.224  data-product.default.svc.cluster.local",
    "80:30799/TCP,443:31522/TCP",                              # 5: the ingress Service
    "-A KUBE-NODEPORTS -p tcp -m comment --comment \"ingress-nginx/ingress-nginx:http\" -m tcp --dport 30799",
    '"name": "apple"',                                         # 5: the request's answer
]


def _check(r, lab):
    assert r.returncode == 0, r.stderr + r.stdout
    for chapter in CHAPTERS:
        assert f"=== {chapter} ===" in r.stdout
    for marker in MARKERS:
        assert marker in r.stdout, marker
    assert f"$ ip -n {lab.name}-node1 route" in r.stdout
    assert "!! step" not in r.stdout


def test_the_whole_tour_runs(seed_lab):
    r = netlab("tour", "--name", seed_lab.name, "--yes", timeout=180, check=False)
    _check(r, seed_lab)
    assert "netlab: the tour is over: 14 steps run." in r.stdout
    trace = r.stdout.split("=== 6. A trace ===")[1]
    assert "resolves data-product with the cluster DNS" in trace and "result: answered" in trace


def test_the_tour_without_its_trace_runs(seed_lab):
    r = netlab("tour", "--name", seed_lab.name, "--yes", "--skip", "trace", timeout=180, check=False)
    _check(r, seed_lab)
    trace = r.stdout.split("=== 6. A trace ===")[1]
    assert f"$ netlab trace --name {seed_lab.name} business-manager-666f454f7f-7l86b data-product\n" \
           "(skipped: --skip)" in trace
    assert "netlab: the tour is over: 13 steps run, 1 skipped." in r.stdout


def test_no_such_lab_says_how_to_start_one():
    r = netlab("tour", "--name", "nosuchlab0", "--yes", check=False)
    assert r.returncode == 1 and "netlab up --name nosuchlab0" in r.stderr
