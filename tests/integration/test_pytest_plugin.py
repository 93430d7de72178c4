"""The pytest plugin as a user runs it (pytester, in a pytest process of its own): a passing
test, a failing one whose lab is exported and still removed, Ctrl-C in the middle, two xdist
workers side by side, module-scoped labs, a topology given by a marker."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest

from helpers import listdir

pytest_plugins = ["pytester"]

PASSING = '''
def test_the_seed_answers(lab):
    r = lab.exec("client", "curl", "-s", "-m", "5", "-H", "Host: business-manager.default",
                 "http://192.168.0.21:30799/api/v1/product/list")
    assert '"products"' in r.stdout
    print("LAB", lab.name)
'''

FAILING = '''
def test_a_service_change_that_breaks(lab):
    lab.apply("apiVersion: v1\\nkind: Service\\nmetadata: {name: extra}\\n"
              "spec: {selector: {app: x}, ports: [{port: 80}]}\\n")
    print("LAB", lab.name)
    assert False, "the user's idea did not work"
'''


def names(output: str, word: str = "LAB") -> list[str]:
    """What the inner tests printed (pytest -s puts it after the file's name on its line)."""
    return re.findall(rf"\b{word} (\S+)", output)


def gone(name: str) -> bool:
    spaces = [n for n in listdir("/run/netns") if n.startswith(f"{name}-")]
    return not spaces and not os.path.exists(f"/run/netlab/{name}")


def test_a_passing_test_gets_a_lab_that_goes_afterwards(pytester):
    pytester.makepyfile(PASSING)
    r = pytester.runpytest_subprocess("-s", "-p", "no:cacheprovider")
    r.assert_outcomes(passed=1)
    made = names(r.stdout.str())
    assert len(made) == 1 and gone(made[0])


def test_a_failing_test_is_exported_and_its_lab_removed(pytester, tmp_path):
    pytester.makepyfile(FAILING)
    r = pytester.runpytest_subprocess("-s", "-p", "no:cacheprovider", f"--netlab-export={tmp_path}")
    r.assert_outcomes(failed=1)
    made = names(r.stdout.str())
    assert len(made) == 1 and gone(made[0])
    bundle, = tmp_path.iterdir()
    assert "extra" in (bundle / "objects" / "services.yaml").read_text()
    assert (bundle / "namespaces" / f"{made[0]}-node1" / "iptables.txt").exists()


def test_ctrl_c_during_a_test_still_removes_its_lab(pytester):
    pytester.makepyfile('''
import time
def test_waits(lab):
    print("LAB", lab.name, flush=True)
    time.sleep(60)
''')
    proc = subprocess.Popen([sys.executable, "-m", "pytest", "-s", "-p", "no:cacheprovider", str(pytester.path)],
                            cwd=pytester.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        name = None
        deadline = time.monotonic() + 60
        while name is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            found = names(line)
            name = found[0] if found else None
        assert name, "the test never started"
        os.killpg(proc.pid, signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert "KeyboardInterrupt" in out
    assert gone(name), f"lab {name} is still there"


def test_two_xdist_workers_build_labs_side_by_side(pytester):
    pytest.importorskip("xdist")
    noted = PASSING.replace('    print("LAB", lab.name)', '    open("labs.txt", "a").write(f"LAB {lab.name}\\n")')
    pytester.makepyfile(test_a=noted, test_b=noted.replace("the_seed_answers", "the_seed_answers_too"))
    r = pytester.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider")
    r.assert_outcomes(passed=2)
    made = names((pytester.path / "labs.txt").read_text())      # (workers' output is not shown)
    assert len(set(made)) == 2 and all(gone(n) for n in made), made


def test_a_marker_builds_a_topology_and_module_labs_are_shared(pytester):
    pytester.makefile(".yaml", lab='''
nodes:
  - {name: node1, ip: 192.168.0.21, podCIDR: 172.30.76.0/24}
  - {name: node2, ip: 192.168.0.22, podCIDR: 172.30.9.0/24}
deployments:
  - {name: web, replicas: 2}
policy: enforce
''')
    pytester.makepyfile('''
import pytest

@pytest.mark.netlab(topology="lab.yaml")
def test_topology(lab):
    c = lab.cluster()
    assert [n.name for n in c.nodes] == ["node1", "node2"] and len(c.pods) == 2 and c.policy == "enforce"

def test_shared_one(module_lab):
    print("MOD", module_lab.name)

def test_shared_two(module_lab):
    print("MOD", module_lab.name)
''')
    r = pytester.runpytest_subprocess("-s", "-p", "no:cacheprovider")
    r.assert_outcomes(passed=3)
    mods = names(r.stdout.str(), "MOD")
    assert len(mods) == 2 and len(set(mods)) == 1 and gone(mods[0]), mods


def test_the_examples_pass_as_a_user_runs_them():
    examples = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "pytest")
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", examples],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert "3 passed" in r.stdout
