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


@pytest.mark.parametrize("argv, option", [
    (("node", "add", "node3", "--pods", "-1"), "--pods"),
    (("node", "add", "node3", "--pods=x"), "--pods"),
    (("scale", "deploy/web", "--replicas", "-1"), "--replicas"),
])
def test_a_count_below_zero_is_one_line_naming_the_option(argv, option):
    value = argv[-1].split("=")[-1]
    with pytest.raises(SystemExit, match=rf"^netlab {argv[0]}: argument {option}: '{value}' must be a whole number "
                                         rf">= 0 \(see netlab {argv[0]} --help\)$"):
        cli.parser().parse_args(list(argv))


def test_scale_refuses_more_replicas_than_the_lab_can_hold(monkeypatch):
    from netlab.errors import NetlabError
    from netlab.model.seed import seed_cluster
    seen = []

    class Lab:       # what scale's change meets in a running seed lab
        def update(self, change, warn):
            c = seed_cluster()
            change(c)
            seen.append(c)
            return [], []
    monkeypatch.setattr(cli, "_lab", lambda args: Lab())
    with pytest.raises(NetlabError, match=r"^scale: --replicas: 1000000 is more pods than the lab can hold: its 2 "
                                          r"nodes' podCIDRs have 501 free addresses \(netlab node add makes room\)$"):
        cli.cmd_scale(cli.parser().parse_args(["scale", "deploy/business-manager", "--replicas", "1000000"]))
    cli.cmd_scale(cli.parser().parse_args(["scale", "deploy/business-manager", "--replicas", "3"]))
    assert next(d for d in seen[0].deployments if d.name == "business-manager").replicas == 3
