"""The fake iptables behaves as iptables-legacy-restore and -save do (tests/integration/
test_fake_kernel.py replays the same operations on a real namespace and compares)."""
import pytest

from netlab.errors import NetlabError
from netlab.kernel.fake import FakeIptables

NS = "x"


def test_a_flushing_restore_replaces_the_named_table_only():
    ipt = FakeIptables()
    ipt.restore(NS, "*nat\n:MINE - [0:0]\n-A MINE -j RETURN\nCOMMIT\n*filter\n-A INPUT -j ACCEPT\nCOMMIT\n")
    ipt.restore(NS, "*nat\n:OTHER - [0:0]\nCOMMIT\n", noflush=False)
    assert ipt.save(NS) == ("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
                            "-A INPUT -j ACCEPT\nCOMMIT\n"
                            "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
                            ":POSTROUTING ACCEPT [0:0]\n:OTHER - [0:0]\nCOMMIT\n")


def test_noflush_flushes_a_declared_chain_and_inserts_at_a_position():
    ipt = FakeIptables()
    ipt.restore(NS, "*nat\n:A - [0:0]\n-A A -j RETURN\n-A PREROUTING -j A\n-A PREROUTING -j ACCEPT\nCOMMIT\n")
    ipt.restore(NS, "*nat\n:A - [0:0]\n-A A -j ACCEPT\n-I PREROUTING 2 -j DROP\nCOMMIT\n")
    assert ipt.rules(NS, "nat", "A") == ["-A A -j ACCEPT"]
    assert ipt.rules(NS, "nat", "PREROUTING") == ["-A PREROUTING -j A", "-A PREROUTING -j DROP",
                                                  "-A PREROUTING -j ACCEPT"]


def test_probabilities_are_kept_as_the_kernel_prints_them_back():
    ipt = FakeIptables()
    ipt.restore(NS, "*nat\n:S - [0:0]\n-A S -m statistic --mode random --probability 0.33333 -j RETURN\nCOMMIT\n")
    assert ipt.rules(NS, "nat", "S") == ["-A S -m statistic --mode random --probability 0.33332999982 -j RETURN"]


@pytest.mark.parametrize("bad,why", [
    ("-A NOPE -j ACCEPT", "chain 'NOPE' does not exist"),
    ("-A A -j NOPE", "'NOPE' is neither a chain nor a target"),
    ("-X A", "chain 'A' is still jumped to"),
    ("-I A 5 -j ACCEPT", "index of insertion too big: 5 in A"),
    ("-D A -j DROP", "no such rule in A: -A A -j DROP"),
])
def test_an_error_leaves_the_whole_table_as_it_was(bad, why):
    ipt = FakeIptables()
    ipt.restore(NS, "*nat\n:A - [0:0]\n-A PREROUTING -j A\nCOMMIT\n")
    before = ipt.save(NS)
    with pytest.raises(NetlabError, match=rf"^iptables-legacy-restore in x failed: line 3: {why}$"):
        ipt.restore(NS, f"*nat\n-A A -j RETURN\n{bad}\nCOMMIT\n")
    assert ipt.save(NS) == before


def test_a_table_without_commit_is_an_error_and_changes_nothing():
    ipt = FakeIptables()
    with pytest.raises(NetlabError, match=r"^iptables-legacy-restore in x failed: no COMMIT for table nat$"):
        ipt.restore(NS, "*nat\n:A - [0:0]\n")
    assert ipt.save(NS) == ""
