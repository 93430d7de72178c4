"""The command line as kubectl's: options may stand before, between or after the positionals."""
import pytest

from netlab import cli


def _args(*argv: str) -> dict:
    a = vars(cli.parser().parse_args(list(argv)))
    a.pop("fn")
    return a


@pytest.mark.parametrize("argv", [
    ("get", "pods", "-n", "kube-system", "kube-dns-1"),
    ("get", "-n", "kube-system", "pods", "kube-dns-1"),
    ("get", "pods", "kube-dns-1", "-n", "kube-system"),
])
def test_get_reads_its_name_wherever_the_namespace_option_stands(argv):
    a = _args(*argv)
    assert (a["kind"], a["resource"], a["namespace"]) == ("pods", "kube-dns-1", "kube-system")


def test_delete_and_describe_too():
    assert [_args("delete", "-n", "web", "pod", "a")[k] for k in ("kind", "resource", "namespace")] == \
        ["pod", "a", "web"]
    assert [_args("describe", "svc", "-n", "web", "a")[k] for k in ("kind", "resource", "namespace")] == \
        ["svc", "a", "web"]


def test_exec_passes_the_rest_of_its_line_on_and_capture_keeps_its_filter():
    assert _args("exec", "client", "--", "ls", "-n", "x")["command"] == ["ls", "-n", "x"]
    a = _args("capture", "-c", "2", "node1:eth0", "udp", "port", "53", "-t", "1")
    assert (a["where"], a["filter"], a["count"], a["timeout"]) == ("node1:eth0", ["udp", "port", "53"], 2, 1.0)


def test_a_positional_too_many_is_still_refused():
    with pytest.raises(SystemExit, match=r"^netlab: unrecognized arguments: b "):
        cli.parser().parse_args(["get", "pods", "a", "b"])
