import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from netlab.lab import Lab  # noqa: E402
from netlab.state import LabDir

from helpers import leftovers, unique


@pytest.fixture
def make_lab():
    """Build labs with unique names; each is removed after the test, also when it fails."""
    made: list[str] = []

    def make(cluster_fn, **kw):
        name = unique()
        made.append(name)
        return Lab.up(cluster_fn(name, time.time(), **kw))

    yield make
    for name in made:
        lab = Lab(name)
        if lab.dir.exists():
            with lab.dir.lock():
                lab._teardown()
        assert leftovers(name) == [], f"lab {name} left {leftovers(name)}"


@pytest.fixture(scope="module")
def seed_lab():
    """One seed lab shared by a module's read-only tests."""
    from netlab.model.seed import seed_cluster
    name = unique("s")
    lab = Lab.up(seed_cluster(name, time.time()))
    try:
        yield lab
    finally:
        if LabDir(name).exists():
            lab.down()
