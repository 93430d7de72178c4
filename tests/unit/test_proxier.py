from netlab.kube_proxy import build, parse_save, to_text
from netlab.kube_proxy.proxier import missing_jumps, plan, whole_tables
from netlab.model.endpoints import derive_endpoints
from netlab.model.seed import seed_cluster

FLANNEL = "-A POSTROUTING -s 172.30.0.0/16 ! -d 224.0.0.0/4 -j MASQUERADE"


def _seed():
    c = seed_cluster()
    c.endpoints = derive_endpoints(c)
    return c


def test_whole_tables_keep_foreign_rules_after_netlabs_jumps():
    want = build(_seed(), "node1")
    saved = "*nat\n:PREROUTING ACCEPT [0:0]\n:POSTROUTING ACCEPT [5:300]\n:MINE - [0:0]\n" \
            f"{FLANNEL}\n-A POSTROUTING -j KUBE-POSTROUTING\n-A MINE -j RETURN\nCOMMIT\n"
    text = whole_tables(saved, want)
    nat = text.split("*nat\n")[1].split("COMMIT")[0].splitlines()
    post = [line for line in nat if line.startswith("-A POSTROUTING")]
    assert post == ['-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
                    FLANNEL]                              # our old jump is replaced, not doubled
    assert ":MINE - [0:0]" in nat and "-A MINE -j RETURN" in nat
    assert text.count("*filter") == 1 and "-A KUBE-FORWARD" in text


def test_plan_from_nothing_writes_every_chain_and_inserts_the_jumps():
    want = build(_seed(), "node1")
    text = plan(parse_save(""), want)
    for table in ("nat", "filter"):
        for chain in want[table].chains:
            assert f":{chain} - [0:0]" in text
    assert '-I PREROUTING 1 -m comment --comment "kubernetes service portals" -j KUBE-SERVICES' in text


def test_plan_after_one_endpoint_change_rewrites_only_that_services_chains():
    c = _seed()
    before = build(c, "node1")
    dp = next(e for e in c.endpoints if e.name == "data-product")
    dp.addresses = [a for a in dp.addresses if a.ip != "172.30.9.2"]
    text = plan(before, build(c, "node1", endpoints=c.endpoints))
    declared = [line for line in text.splitlines() if line.startswith(":")]
    assert declared == [":KUBE-SVC-45TXGSBX3LGQQRTB - [0:0]", ":KUBE-SEP-QFJ7ESRM37V67WJQ - [0:0]"]
    assert "-X KUBE-SEP-QFJ7ESRM37V67WJQ" in text and "-I " not in text


def test_nothing_to_do_when_rules_are_as_saved():
    want = build(_seed(), "node1")
    assert plan(parse_save(to_text(want)), want) == ""
    assert missing_jumps(want, want) == ""
