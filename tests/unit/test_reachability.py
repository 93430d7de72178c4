import re
from pathlib import Path

import pytest

import golden_files

from netlab.errors import ModelError
from netlab.reachability import Matrix, compare, differences, parse, pretty, summary

GOLDEN = Path(__file__).parent / "golden" / "reachability"
PODS = ["x/a", "x/b", "y/a"]


def matrix(protocol="TCP", port=80, blocked=(), missing=(), tos=PODS) -> Matrix:
    cells = {(s, d): (s, d) not in blocked for s in PODS for d in tos if (s, d) not in missing}
    return Matrix(protocol, port, list(PODS), list(tos), cells)


def test_pretty_is_e2e_truth_table_with_the_probe_named_first():
    m = matrix(blocked={("x/b", "x/a"), ("y/a", "client")}, missing={("y/a", "x/b")}, tos=[*PODS, "client"])
    golden_files.check(GOLDEN / "pretty.txt", pretty(m) + "\n")
    assert pretty(m).splitlines()[:2] == ["TCP/80", "-\tx/a\tx/b\ty/a\tclient"]
    assert pretty(m).splitlines()[3] == "x/b\tX\t.\t.\t."


def test_comparison_summary_and_differences():
    expected = matrix(blocked={("x/b", "x/a"), ("y/a", "x/a")})
    observed = matrix(blocked={("x/b", "x/a"), ("x/a", "y/a")})
    c = compare(expected, observed)
    text = "\n".join([pretty(c, title="comparison TCP/80"), summary(c), *differences(expected, observed)]) + "\n"
    golden_files.check(GOLDEN / "comparison.txt", text)
    assert summary(c) == "reachability TCP/80: correct:7, incorrect:2, result=false"
    assert differences(expected, observed) == ["x/a -> y/a: expected ., observed X",
                                               "y/a -> x/a: expected X, observed ."]


def test_equal_matrices_agree_everywhere():
    c = compare(matrix(), matrix())
    assert all(c.allowed.values()) and summary(c).endswith("correct:9, incorrect:0, result=true")
    assert differences(matrix(), matrix()) == []


def test_round_trip_of_several_sections():
    ms = [matrix(blocked={("x/a", "y/a")}), matrix("UDP", 53, missing={("y/a", "x/a")}, tos=[*PODS, "db"])]
    assert parse("\n\n".join(pretty(m) for m in ms), "f") == ms


def test_one_matrix_without_a_header_applies_to_every_probe():
    text = "\n".join(pretty(matrix(blocked={("x/a", "x/b")})).splitlines()[1:])
    (m,) = parse(text, "f")
    assert (m.protocol, m.port) == ("", 0) and m.allowed == matrix(blocked={("x/a", "x/b")}).allowed


def test_spaces_comments_and_e2e_trailing_tabs_are_read():
    text = ("# what we expect\ntcp/80\n  -\t\tx/a\tx/b\n  x/a\t.\t\tX\t\n"     # e2e: "-\t" and "mark\t" joined by tabs
            "x/b   .   .\n\nudp/53\n- x/a\nx/a X\n")
    a, b = parse(text, "f")
    assert (a.protocol, a.port, a.froms, a.tos) == ("TCP", 80, ["x/a", "x/b"], ["x/a", "x/b"])
    assert a.allowed == {("x/a", "x/a"): True, ("x/a", "x/b"): False, ("x/b", "x/a"): True, ("x/b", "x/b"): True}
    assert (b.protocol, b.port, b.allowed) == ("UDP", 53, {("x/a", "x/a"): False})


@pytest.mark.parametrize("text, line, why", [
    ("TCP/80\n- a b\na . Y\n", 3, "row 'a', column 'b': unknown mark 'Y'"),
    ("TCP/80\n- a b\na . . .\n", 3, "row 'a' has 3 cells, the header 2"),
    ("TCP/80\n- a b\na .\n", 3, "row 'a' has 1 cells, the header 2"),
    ("TCP/80\n- a a\n", 2, "duplicate column label 'a'"),
    ("TCP/80\n- a\na .\na X\n", 4, "duplicate row label 'a'"),
    ("TCP/80\n- a\na .\nTCP/80\n- a\na .\n", 4, "TCP/80 appears twice"),
    ("ICMP/80\n- a\na .\n", 1, "unknown protocol 'ICMP' (TCP, UDP or SCTP)"),
    ("TCP/0\n- a\na .\n", 1, "port 0 is not between 1 and 65535"),
    ("TCP/70000\n- a\na .\n", 1, "port 70000 is not between 1 and 65535"),
    ("a . .\n", 1, "expected a PROTO/PORT line or a header line starting with '-', not 'a'"),
    ("TCP/80\na .\n", 2, "expected a PROTO/PORT line or a header line starting with '-', not 'a'"),
    ("TCP/80\n-\n", 2, "the header (-) names no columns"),
    ("TCP/80\n- a\n- a\n", 3, "a second header line (-) in one matrix"),
    ("TCP/80\n- a\nUDP/81\n- a\na .\n", 3, "TCP/80 has no rows"),
    ("TCP/80\n- a\n", 3, "TCP/80 has no rows"),
    ("- a\na .\nTCP/80\n", 3, "TCP/80: a matrix without a PROTO/PORT line must be the file's only one"),
    ("- ns/1\nns/123\n", 2, "row 'ns/123' has 0 cells, the header 1"),
])
def test_parse_errors_name_file_line_and_what(text, line, why):
    with pytest.raises(ModelError, match=rf"^expect\.txt:{line}: {re.escape(why)}[^\n]*$"):
        parse(text, "expect.txt")


def test_an_empty_file_has_no_matrix():
    with pytest.raises(ModelError, match=r"^e: no matrix in it$"):
        parse("\n# nothing\n", "e")


@pytest.mark.parametrize("expected, observed, why", [
    (matrix(tos=["x/a"]), matrix(), "TCP/80: probed column 'x/b' is not in the expectation"),
    (matrix(), matrix(tos=["x/a", "x/b"]), "TCP/80: expected column 'y/a' was not probed"),
    (Matrix("", 0, ["x/a", "x/b", "y/a", "z/z"], PODS, {}), matrix(), "TCP/80: expected row 'z/z' was not probed"),
    (matrix(missing={("x/b", "y/a")}), matrix(), "TCP/80: x/b -> y/a: no expected value"),
    (matrix(), matrix(missing={("y/a", "x/a")}), "TCP/80: y/a -> x/a: no observed value"),
])
def test_compare_needs_the_same_labels_and_every_value(expected, observed, why):
    with pytest.raises(ModelError, match=f"^{re.escape(why)}$"):
        compare(expected, observed)
