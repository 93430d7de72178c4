from netlab.kubelet import BACKOFF_FIRST, Backoff, decide
from netlab.model.objects import Pod

A, B = ("default", "a"), ("default", "b")


def _pods(ready_a=True, ready_b=True):
    return {A: Pod("a", "default", "n1", "172.30.1.2", ready=ready_a, command=["x"]),
            B: Pod("b", "default", "n1", "172.30.1.3", ready=ready_b, command=["x"])}


def test_a_dead_process_leaves_endpoints_at_once_and_restarts_after_the_back_off():
    b = Backoff()
    restart, ready = decide(_pods(), {A: False, B: True}, {}, 100.0, b)
    assert (restart, ready) == ([], {A: (True, False)})
    assert decide(_pods(False), {A: False, B: True}, {}, 100.0 + BACKOFF_FIRST - 0.1, b) == ([], {})
    assert decide(_pods(False), {A: False, B: True}, {}, 100.0 + BACKOFF_FIRST, b) == ([A], {})


def test_the_back_off_doubles_when_it_dies_again():
    b = Backoff()
    decide(_pods(), {A: False}, {}, 0.0, b)
    decide(_pods(False), {A: False}, {}, BACKOFF_FIRST, b)          # restarted
    decide(_pods(False), {A: False}, {}, 10.0, b)                   # died again
    assert b.due[A] == 10.0 + 2 * BACKOFF_FIRST


def test_readiness_follows_probes_of_running_processes_only():
    b = Backoff()
    assert decide(_pods(False, True), {A: True, B: True}, {A: True, B: False}, 0.0, b) == \
        ([], {A: (False, True), B: (True, False)})
    assert decide(_pods(), {A: True, B: True}, {A: True, B: True}, 0.0, b) == ([], {})


def test_pods_not_started_yet_are_left_to_the_lab():
    assert decide(_pods(False, False), {A: None, B: None}, {}, 0.0, Backoff()) == ([], {})
