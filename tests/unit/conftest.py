import os
from pathlib import Path

import pytest

from netlab import runtime, state
from netlab.kernel import netns
from netlab.kernel.fake import FakeKernel

# golden_files.check's assert shows the diff, as an assert in a test does
pytest.register_assert_rewrite("golden_files")


@pytest.fixture
def kernel(tmp_path, monkeypatch):
    """A fake kernel, the labs' records under tmp_path, and pods run as the test's own user."""
    monkeypatch.setattr(state, "RUN_DIR", tmp_path / "run")
    monkeypatch.setattr(state, "MARK_DIR", tmp_path / "marks")
    monkeypatch.setattr(netns, "ETC", str(tmp_path / "etc-netns"))
    monkeypatch.setattr(runtime.Runtime, "uid", lambda self, c, p: os.geteuid())
    k = FakeKernel()

    def flanneld(spec):          # flanneld says it is ready once started
        Path(spec.argv[spec.argv.index("--ready") + 1]).touch()
    k.programs["netlab-flanneld"] = flanneld
    return k
