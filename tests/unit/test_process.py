"""netlab's processes as ps shows them, and the table of its own programs (no root needed)."""
import os
import sys
import time
import tomllib
from pathlib import Path

from netlab.apps import PROGRAMS
from netlab.kernel import process, sandbox

ROOT = Path(__file__).resolve().parents[2]


def test_every_program_started_in_place_is_a_command_of_the_package():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert {name: scripts.get(name) for name in PROGRAMS} == PROGRAMS


def test_only_our_own_installed_programs_run_in_place():
    here = os.path.join(os.path.dirname(sys.executable), "netlab-whoami")
    assert process.program([here, "--port", "80"]) == "netlab.apps.whoami:main"
    assert process.program(["/usr/bin/netlab-whoami"]) is None      # another one of that name
    assert process.program(["nginx", "-g", "daemon off;"]) is None
    assert process.program([]) is None


def _retitled(argv, env):
    """A forked child's /proc files after retitle (it sleeps until read)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        sandbox.retitle(argv, env)
        os.write(w, b"x")
        time.sleep(5)
        os._exit(0)
    os.close(w)
    try:
        os.read(r, 1)
        read = {f: Path(f"/proc/{pid}/{f}").read_bytes() for f in ("cmdline", "environ", "comm")}
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    return read


def test_retitle_shows_the_program_and_its_environment():
    got = _retitled(["/opt/venv/bin/netlab-whoami", "--name", "p"], {"PATH": "/usr/bin", "NETLAB_NETNS": "lab-p"})
    assert got["cmdline"].rstrip(b"\0").replace(b"\0", b" ") == b"/opt/venv/bin/netlab-whoami --name p"
    assert got["comm"] == b"netlab-whoami\n"
    # the lab's mark comes first, so that whatever the area holds, it holds that
    assert got["environ"].split(b"\0")[:2] in ([b"NETLAB_NETNS=lab-p", b"PATH=/usr/bin"],
                                              [b"", b"NETLAB_NETNS=lab-p"])
    assert b"NETLAB_NETNS=lab-p\0PATH=/usr/bin\0" in got["environ"]


def test_retitle_of_a_long_command_line_spills_into_the_environment_area():
    argv = ["netlab-whoami", "--name", "x" * 300]
    arg_start, arg_end, _, env_end = sandbox._memory_areas()     # the child's are the same
    assert arg_end - arg_start < 300 < env_end - arg_start - 100, "this test needs a longer environment"
    got = _retitled(argv, {"NETLAB_NETNS": "lab-q"})
    assert got["cmdline"].split(b"\0")[0] == " ".join(argv).encode()
    assert b"NETLAB_NETNS=lab-q\0" in got["environ"]


def test_each_process_is_given_its_own_time_after_sigterm_then_sigkilled():
    import signal
    import subprocess
    stubborn = subprocess.Popen([sys.executable, "-c", "import signal, time\n"
                                 "signal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint(flush=True)\ntime.sleep(30)"],
                                stdout=subprocess.PIPE)
    stubborn.stdout.readline()                  # SIGTERM is ignored from now on
    polite = subprocess.Popen(["sleep", "30"])
    t = time.monotonic()
    process.kill([stubborn.pid, polite.pid], [0.5, 20])
    took = time.monotonic() - t
    assert stubborn.wait(1) == -signal.SIGKILL and polite.wait(1) == -signal.SIGTERM
    assert 0.5 <= took < 2, f"{took:.2f} s: the one ignoring SIGTERM is killed after its 0.5 s, the other ends at once"


def _shim_over(child_code) -> tuple[int, int]:
    """Fork a shim (process._shim) over a child running child_code(ready_fd); (shim, child)."""
    import signal
    r, w = os.pipe()
    shim = os.fork()
    if shim == 0:
        try:
            child = os.fork()
            if child == 0:
                child_code(w)
                os._exit(0)
            os.write(w, str(child).encode().ljust(16))
            process._shim(child)
        finally:
            os._exit(99)
    os.close(w)
    first, second = os.read(r, 16), os.read(r, 16)       # the child's pid, then the child's "ready"
    os.close(r)
    child = int((first if first.strip().isdigit() else second).strip())
    while not _catches(shim, signal.SIGTERM):       # its handlers are in place
        time.sleep(0.001)
    return shim, child


def _catches(pid: int, signum: int) -> bool:
    with open(f"/proc/{pid}/status") as f:
        caught = next(int(line.split()[1], 16) for line in f if line.startswith("SigCgt:"))
    return bool(caught & (1 << (signum - 1)))


def _on_term_exit_7(ready: int) -> None:
    import signal
    import time
    signal.signal(signal.SIGTERM, lambda *_: os._exit(7))
    os.write(ready, b"ready".ljust(16))
    time.sleep(30)


def test_a_shim_passes_sigterm_on_and_ends_with_its_childs_exit_code():
    import signal
    shim, _ = _shim_over(_on_term_exit_7)
    os.kill(shim, signal.SIGTERM)
    _, status = os.waitpid(shim, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 7


def test_a_shim_ends_killed_as_its_child_was():
    import signal
    shim, child = _shim_over(_on_term_exit_7)
    os.kill(child, signal.SIGKILL)
    _, status = os.waitpid(shim, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
