"""netlab-supervise's back-off: as systemd's restart delay with a doubling step."""
from netlab.apps import supervise


def test_quick_exits_double_the_wait_up_to_30_s_and_a_long_run_forgives():
    delays, d = [], 0.0
    for _ in range(7):
        d = supervise.delay_after(d, ran=0.2)
        delays.append(d)
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert supervise.delay_after(30.0, ran=10.0) == 1.0
    assert supervise.delay_after(4.0, ran=9.9) == 8.0


def test_without_a_command_it_says_how_to_call_it(capsys):
    assert supervise.main(["--status", "/nonexistent"]) == 2
    assert capsys.readouterr().err == "netlab-supervise: give [--status FILE] -- COMMAND [ARGS...]\n"
