"""netlab tour: its steps for a seed cluster (netlab.tour) and the runner over a fake executor (netlab.tour_runner)."""
import pytest

from netlab import cli
from netlab.errors import NetlabError
from netlab.model.control_plane import admit
from netlab.model.seed import platform, seed_cluster
from netlab.tour import CHAPTERS, Step, missing, steps
from netlab.tour_runner import choose_lab, run, skipped


def _lab(name):
    """A seed cluster as the lab's record holds it: admitted, with its Endpoints."""
    return admit(seed_cluster(name, 0.0), 0.0)


@pytest.fixture(scope="module")
def t1():
    return steps(_lab("t1"))


def _shown(all_steps):
    return {s.name: s.shown() for s in all_steps}


def test_the_steps_name_the_labs_namespaces_and_pods(t1):
    shown = _shown(t1)
    assert shown["pods"] == "netlab get --name t1 po -o wide"
    assert shown["services"] == "netlab get --name t1 svc"
    assert shown["routes"] == "ip -n t1-node1 route"
    assert shown["docker0"] == "ip -n t1-node1 addr show docker0"
    assert shown["neigh"] == "ip -n t1-node1 neigh show dev flannel.1"
    assert shown["fdb"] == "bridge -n t1-node1 fdb show dev flannel.1"
    assert shown["ping"] == "netlab exec --name t1 business-manager-666f454f7f-7l86b -- ping -c 1 -W 2 172.30.9.2"
    assert shown["resolv-conf"] == "netlab exec --name t1 business-manager-666f454f7f-7l86b -- cat /etc/resolv.conf"
    assert shown["resolve"] == "netlab exec --name t1 business-manager-666f454f7f-7l86b -- getent hosts data-product"
    assert shown["request"] == ("netlab exec --name t1 client -- curl -s -H 'Host: business-manager.default' "
                                "http://192.168.0.21:30799/api/v1/product/list")
    assert shown["trace"] == "netlab trace --name t1 business-manager-666f454f7f-7l86b data-product"


def test_the_seed_lab_needs_no_name():
    shown = _shown(steps(_lab("seed")))
    assert shown["pods"] == "netlab get po -o wide"
    assert shown["routes"] == "ip -n seed-node1 route"
    assert shown["trace"] == "netlab trace business-manager-666f454f7f-7l86b data-product"


def test_the_rules_step_filters_data_products_chains_with_the_hashes_kube_proxy_gives_them(t1):
    step = next(s for s in t1 if s.name == "kube-services")
    assert step.argv == ("ip", "netns", "exec", "t1-node1", "iptables-legacy-save", "-t", "nat")
    # KUBE-SVC of default/data-product:data-product tcp, as the walk-through's iptables-save names it
    assert step.pipe[:2] == ("grep", "-E") and "KUBE-SVC-45TXGSBX3LGQQRTB" in step.pipe[2]
    assert step.pipe[2].count("KUBE-SEP-") == 3                  # one per data-product pod
    assert step.shown().startswith("ip netns exec t1-node1 iptables-legacy-save -t nat | grep -E '^-A .*(KUBE-SVC-")
    assert "--probability 0.33332999982 (1/3), then 0.50000000000 (1/2 of the rest)" in step.explanation
    nodeports = next(s for s in t1 if s.name == "nodeports")
    assert "KUBE-NODEPORTS" in nodeports.pipe[2] and "--dport 30799" in nodeports.explanation


def test_every_chapter_has_steps_in_order_and_the_trace_is_last(t1):
    assert [c for c in CHAPTERS if any(s.chapter == c for s in t1)] == list(CHAPTERS)
    assert [s.chapter for s in t1] == sorted((s.chapter for s in t1), key=CHAPTERS.index)
    assert t1[-1].name == "trace"
    assert len({s.name for s in t1}) == len(t1)


def test_explanations_are_one_or_two_lines(t1):
    assert all(1 <= len(s.lines()) <= 2 for s in t1), [s.title for s in t1 if len(s.lines()) > 2]


def test_a_lab_without_the_seeds_application_is_refused():
    assert missing(seed_cluster("t1", 0.0)) is None
    assert missing(platform("t1", 0.0)) == "no business-manager pod on node1"


# ---- the runner ---------------------------------------------------------------------------------

def _steps(n=4):
    return [Step(f"Title {i}", f"explains {i}", ("echo", str(i)), f"s{i}", f"chapter {(i + 1) // 2}")
            for i in range(1, n + 1)]


class Fake:
    """Executes steps from a table: step name -> (exit status, output); records the order."""

    def __init__(self, codes=None):
        self.codes, self.ran = codes or {}, []

    def __call__(self, step):
        self.ran.append(step.name)
        return self.codes.get(step.name, (0, f"output of {step.name}\n"))


def test_yes_runs_every_step_and_reports_each_failure_with_its_title():
    lines, fake = [], Fake({"s2": (1, "boom\n"), "s4": (3, "")})
    outcome = run(_steps(), fake, lines.append)
    assert fake.ran == ["s1", "s2", "s3", "s4"]
    assert [(n, s.title, why) for n, s, why in outcome.failed] == [(2, "Title 2", "exit status 1"),
                                                                    (4, "Title 4", "exit status 3")]
    text = "\n".join(lines)
    assert "!! step 2 (Title 2) failed: exit status 1" in text and "boom" in text
    assert "$ echo 1\noutput of s1" in text
    assert text.count("=== chapter 1 ===") == 1 and "=== chapter 2 ===" in text


def test_interactive_waits_after_each_step_but_the_last():
    prompts, fake = [], Fake()
    outcome = run(_steps(), fake, lambda _: None, ask=lambda p: prompts.append(p) or "")
    assert fake.ran == ["s1", "s2", "s3", "s4"] and len(prompts) == 3 and outcome.stopped_after is None


def test_interactive_stops_at_the_first_failing_step_when_the_user_says_q():
    prompts, fake = [], Fake({"s2": (2, "no such device\n")})
    outcome = run(_steps(), fake, lambda _: None, ask=lambda p: prompts.append(p) or "q")
    assert fake.ran == ["s1"]               # q after the first step already
    prompts.clear()
    fake = Fake({"s2": (2, "no such device\n")})
    answers = iter(["", "q"])
    outcome = run(_steps(), fake, lambda _: None, ask=lambda p: prompts.append(p) or next(answers))
    assert fake.ran == ["s1", "s2"] and outcome.stopped_after == 2
    assert [(n, s.title) for n, s, _ in outcome.failed] == [(2, "Title 2")]
    assert "failed" in prompts[-1]


def test_interactive_goes_on_after_a_failure_on_enter():
    fake = Fake({"s2": (1, "")})
    outcome = run(_steps(), fake, lambda _: None, ask=lambda p: "")
    assert fake.ran == ["s1", "s2", "s3", "s4"] and [n for n, _, _ in outcome.failed] == [2]


def test_the_end_of_input_stops_the_tour():
    def eof(_):
        raise EOFError
    lines, fake = [], Fake()
    outcome = run(_steps(), fake, lines.append, ask=eof)
    assert fake.ran == ["s1"] and outcome.stopped_after == 1 and any("--yes" in line for line in lines)


def test_skip_by_number_or_short_name():
    all_steps = _steps()
    assert skipped(all_steps, ["2", "s4"]) == {2, 4}
    fake, lines = Fake(), []
    outcome = run(all_steps, fake, lines.append, skip={2, 4})
    assert fake.ran == ["s1", "s3"] and outcome.ran == [1, 3] and lines.count("(skipped: --skip)") == 2
    for bad in ("0", "5", "nope"):
        with pytest.raises(NetlabError, match=f"--skip '{bad}': no such step \\(1-4, or one of: s1, s2, s3, s4\\)"):
            skipped(all_steps, [bad])


def test_the_prog_name_is_shown_for_netlabs_own_commands():
    step = Step("t", "e", ("netlab", "get", "svc"))
    assert step.shown("kube-netlab") == "kube-netlab get svc"
    assert Step("t", "e", ("ip", "-n", "x-node1", "route")).shown("kube-netlab") == "ip -n x-node1 route"


def test_which_lab_the_tour_takes():
    seed_like = {"a": seed_cluster("a", 0.0), "b": platform("b", 0.0), "c": seed_cluster("c", 0.0)}
    assert choose_lab("x", ["seed"], seed_like.__getitem__) == "x"
    assert choose_lab(None, ["a", "seed"], seed_like.__getitem__) == "seed"
    assert choose_lab(None, ["a", "b"], seed_like.__getitem__) == "a"
    with pytest.raises(NetlabError, match="several seed labs are running \\(a, c\\)"):
        choose_lab(None, ["a", "b", "c"], seed_like.__getitem__)
    with pytest.raises(NetlabError, match="no seed lab is running: start one with `netlab up`"):
        choose_lab(None, ["b"], seed_like.__getitem__)
    with pytest.raises(NetlabError, match="no seed lab is running"):
        choose_lab(None, [], seed_like.__getitem__)


def test_the_command_is_registered_with_yes_and_skip():
    args = cli.parser().parse_args(["tour", "--name", "t1", "--yes", "--skip", "trace", "--skip", "3"])
    assert args.fn is cli.cmd_tour and args.yes and args.skip == ["trace", "3"] and args.name == "t1"


def test_execute_runs_a_step_and_its_filter_for_real():
    from netlab.tour_runner import execute
    assert execute(Step("t", "e", ("printf", "a\\nb\\n"), pipe=("grep", "b"))) == (0, "b\n")
    assert execute(Step("t", "e", ("printf", "a\\n"), pipe=("grep", "b"))) == (1, "(grep: no line matched)")
    assert execute(Step("t", "e", ("sh", "-c", "echo out; echo err >&2; exit 3"), pipe=("grep", "x"))) == (
        3, "out\nerr\n")                                      # a failing command: its output, unfiltered
    assert execute(Step("t", "e", ("netlab-no-such-command",))) == (127, "netlab-no-such-command: command not found")
    assert execute(Step("t", "e", ("sleep", "5")), timeout=0.1) == (124, "(no answer within 0.1s)")
