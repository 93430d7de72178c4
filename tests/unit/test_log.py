"""Components log through netlab.log: the CLI's warnings read as its own messages, an agent's
records carry the component and the lab."""
import io
import logging

import pytest

from netlab import log


@pytest.fixture(autouse=True)
def fresh():
    root = logging.getLogger("netlab")
    saved = list(root.handlers)
    root.handlers.clear()
    yield
    root.handlers[:] = saved


def test_before_anyone_chooses_warnings_read_as_the_clis_own_lines(capsys):
    log.logger("runtime", "seed").warning("pods run as root")
    log.logger("runtime", "seed").info("not shown")
    assert capsys.readouterr().err == "netlab: warning: pods run as root\n"


def test_an_agents_records_name_the_component_and_the_lab():
    out = io.StringIO()
    log.to_log(out)
    log.logger("kubelet", "seed").info("kubelet for node %s", "node1")
    logging.getLogger("netlab.other").info("no lab given")
    first, second = out.getvalue().splitlines()
    assert first.endswith(" kubelet seed kubelet for node node1")
    assert second.endswith(" - - no lab given")
