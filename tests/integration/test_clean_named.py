"""`netlab clean --name X` removes lab X's leftovers only: other labs keep running."""
import json
import os
import shutil
import subprocess

from netlab import layout
from netlab.kernel import process
from netlab.model.objects import Cluster

from helpers import leftovers, netlab, proc_state, unique

SMALL = """\
nodes:
  - {name: node1, ip: 192.168.0.21, podCIDR: 172.30.76.0/24}
deployments:
  - {name: web, replicas: 2, labels: {app: web}}
"""


def _pods(state_file) -> list:
    return Cluster.from_dict(json.loads(state_file.read_text())["cluster"]).pods


def _reboot(run_dir, name) -> None:
    """What a reboot leaves of a lab: its mark and its /etc/netns directories."""
    state = json.loads((run_dir / name / "state.json").read_text())
    names = state["namespaces"]
    process.kill([p["pid"] for p in state["procs"].values()] + process.in_namespaces(names), timeout=0)
    for n in names:
        subprocess.run(["umount", f"/run/netns/{n}"], check=False)
        os.unlink(f"/run/netns/{n}")
    shutil.rmtree(run_dir / name)


def test_clean_with_a_name_removes_that_lab_only(tmp_path):
    # run and mark directories of its own, so that a plain `clean` at the end sees only these labs
    env = {**os.environ, "NETLAB_RUN_DIR": str(tmp_path / "run"), "NETLAB_MARK_DIR": str(tmp_path / "marks")}
    topo = tmp_path / "small.yaml"
    topo.write_text(SMALL)
    a, b, gone = unique("ca"), unique("cb"), unique("cg")
    try:
        for name in (a, b, gone):
            netlab("up", "-f", str(topo), "--name", name, env=env)
        _reboot(tmp_path / "run", gone)
        assert any(x.startswith("/etc/netns/") for x in leftovers(gone))

        out = netlab("clean", "--name", a, env=env).stdout
        assert f"removed lab {a}" in out and "removed 1 lab(s)" in out
        assert leftovers(a) == [] and not (tmp_path / "marks" / a).exists()
        # the other running lab and the rebooted one's leftovers are untouched
        assert (tmp_path / "marks" / b).exists() and (tmp_path / "marks" / gone).exists()
        assert any(x.startswith("/etc/netns/") for x in leftovers(gone))
        web1, web2 = _pods(tmp_path / "run" / b / "state.json")
        r = netlab("exec", "--name", b, web1.name, "--", "curl", "-s", "-m", "5", f"http://{web2.ip}:8080/",
                   env=env)
        assert web2.name in r.stdout
        assert netlab("exec", "--name", b, web1.name, "--", "ping", "-c", "1", "-W", "2", web2.ip,
                      env=env).returncode == 0

        # after a reboot only the mark and /etc/netns are left: clean --name finds them too
        out = netlab("clean", "--name", gone, env=env).stdout
        assert f"removed what lab {gone} left in /etc/netns" in out
        assert leftovers(gone) == [] and not (tmp_path / "marks" / gone).exists()
        assert leftovers(b) != [] and os.path.exists(f"/run/netns/{layout.node_ns(b, 'node1')}")

        # a name with nothing left: nothing is removed, and it says so
        out = netlab("clean", "--name", a, env=env).stdout
        assert out.strip() == f"netlab: nothing of lab {a!r} to clean"
        assert (tmp_path / "marks" / b).exists()
    finally:
        netlab("clean", env=env, check=False)
    for name in (a, b, gone):
        assert leftovers(name) == [], name


def _alive(pid: int) -> bool:
    """Running: not gone, and not a zombie left for init to reap."""
    return proc_state(pid) not in (None, "Z")


def test_clean_with_a_name_removes_a_lab_whose_record_is_gone(tmp_path):
    """A lab's run directory removed while it runs (a temporary NETLAB_RUN_DIR deleted): its
    namespaces and processes are still there, and clean --name finds them by their names."""
    env = {**os.environ, "NETLAB_RUN_DIR": str(tmp_path / "run"), "NETLAB_MARK_DIR": str(tmp_path / "marks")}
    topo = tmp_path / "small.yaml"
    topo.write_text(SMALL)
    lost, other = unique("cl"), unique("co")
    try:
        for name in (lost, other):
            netlab("up", "-f", str(topo), "--name", name, env=env)
        state = json.loads((tmp_path / "run" / lost / "state.json").read_text())
        pids = [p["pid"] for p in state["procs"].values()]
        shutil.rmtree(tmp_path / "run" / lost)
        shutil.rmtree(tmp_path / "marks")
        assert all(_alive(pid) for pid in pids)

        out = netlab("clean", "--name", lost, env=env).stdout
        assert f"removed lab {lost}: it had no record left; {len(state['namespaces'])} namespaces" in out
        assert leftovers(lost) == [] and not any(_alive(pid) for pid in pids)
        assert os.path.exists(f"/run/netns/{layout.node_ns(other, 'node1')}")       # not that one's
        # a name that has no namespaces is nothing to clean
        assert netlab("clean", "--name", unique("cn"), env=env).stdout.strip().endswith("to clean")
    finally:
        netlab("clean", "--name", lost, env=env, check=False)
        netlab("clean", env=env, check=False)
    for name in (lost, other):
        assert leftovers(name) == [], name
