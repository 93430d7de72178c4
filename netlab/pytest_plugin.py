"""The pytest plugin (entry point `pytest11: netlab`): labs as fixtures for users' own
privileged tests of network ideas.

    @pytest.mark.netlab(topology="lab.yaml", policy="enforce")   # optional; default: the seed lab
    def test_something(lab):            # a lab of its own, removed after the test
        lab.apply(...); lab.exec("client", "curl", ...)

Fixtures: `lab` (one per test), `module_lab` (one per module), `session_lab` (one per run;
per xdist worker). The marker, or `--netlab-topology FILE` / the `netlab_topology` ini
option, says what they build (a topology file or manifests, as `netlab up -f`). Names are
unique per run and per xdist worker. A lab is removed after its scope, also when the test
fails or the run is interrupted (Ctrl-C); with `--netlab-export DIR` (or NETLAB_EXPORT) a
failed test's lab is first exported to DIR/<test name> (`netlab export`), for CI to keep. Without root the tests
that use a lab are skipped, saying why.
"""
from __future__ import annotations

import os
import re

import pytest

from netlab.testing import TestLab, unique_name

_MADE: list[TestLab] = []        # every lab this process made and has not removed yet


def pytest_addoption(parser):
    group = parser.getgroup("netlab")
    group.addoption("--netlab-topology", help="what the lab fixtures build: a topology file or manifests "
                                              "(default: the seed lab)")
    group.addoption("--netlab-export", metavar="DIR", default=os.environ.get("NETLAB_EXPORT") or None,
                    help="export a failed test's lab into DIR/<test> (default: $NETLAB_EXPORT)")
    parser.addini("netlab_topology", "what the lab fixtures build (default: the seed lab)")


def pytest_configure(config):
    config.addinivalue_line("markers", "netlab(topology=None, policy=None): what the test's `lab` is built from")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"netlab_{report.when}", report)


def pytest_sessionfinish(session, exitstatus):
    """A lab still up at the end (the run was interrupted): removed now."""
    while _MADE:
        _MADE.pop().down()


def _build(request, scope_name: str) -> TestLab:
    if os.geteuid() != 0:
        pytest.skip("netlab labs need root: they create network namespaces, links and iptables rules (run as root)")
    mark = request.node.get_closest_marker("netlab") if scope_name == "lab" else None
    kw = dict(mark.kwargs) if mark else {}
    source = kw.get("topology") or request.config.getoption("netlab_topology") \
        or request.config.getini("netlab_topology") or None
    lab = TestLab(unique_name(), source, kw.get("policy"))
    _MADE.append(lab)
    try:
        lab.up()
    except BaseException:
        _remove(lab)
        raise
    return lab


def _remove(lab: TestLab) -> None:
    try:
        lab.down()
    finally:
        if lab in _MADE:
            _MADE.remove(lab)


def _failed(node) -> bool:
    return any(getattr(getattr(node, f"netlab_{when}", None), "failed", False) for when in ("setup", "call"))


def _export(request, lab: TestLab) -> None:
    where = request.config.getoption("netlab_export")
    if where and _failed(request.node):
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)[-150:]
        lab.export(os.path.join(where, safe))


def _lab_for(request, scope_name: str):
    """Build a lab, yield it, and remove it whatever happens (a failed test's exported first)."""
    made = _build(request, scope_name)
    try:
        yield made
    finally:
        try:
            if scope_name == "lab":
                _export(request, made)
        finally:
            _remove(made)


@pytest.fixture
def lab(request):
    """A lab for this test alone (see the module's docstring)."""
    yield from _lab_for(request, "lab")


@pytest.fixture(scope="module")
def module_lab(request):
    """One lab for the module's tests."""
    yield from _lab_for(request, "module")


@pytest.fixture(scope="session")
def session_lab(request):
    """One lab for the run (per xdist worker)."""
    yield from _lab_for(request, "session")
