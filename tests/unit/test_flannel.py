import re

from netlab.flannel.desired import desired, masquerade, on_miss, stale, sysctls
from netlab.flannel.lease import Lease, Store, lease_of, vtep_mac
from netlab.kernel.objects import Fdb, Neigh, Route
from netlab.model.seed import seed_cluster

N1 = Lease("172.30.76.0/24", "192.168.0.21", "0e:00:00:00:00:01")
N2 = Lease("172.30.9.0/24", "192.168.0.22", "0e:00:00:00:00:02")
N3 = Lease("172.30.5.0/24", "192.168.0.23", "0e:00:00:00:00:03")


def test_routes_mode_one_route_neighbour_and_fdb_per_remote_node():
    d = desired([N1, N2, N3], N1.subnet, "routes", "172.30.0.0/16")
    assert d.routes == {Route("172.30.9.0/24", "flannel.1", "172.30.9.0", onlink=True),
                        Route("172.30.5.0/24", "flannel.1", "172.30.5.0", onlink=True)}
    assert d.neighs == {Neigh("172.30.9.0", N2.vtep_mac, "flannel.1"),
                        Neigh("172.30.5.0", N3.vtep_mac, "flannel.1")}
    assert d.fdbs == {Fdb(N2.vtep_mac, "flannel.1", "192.168.0.22"),
                      Fdb(N3.vtep_mac, "flannel.1", "192.168.0.23")}


def test_seed_mode_one_cluster_route_no_static_neighbours():
    d = desired([N1, N2], N2.subnet, "seed", "172.30.0.0/16")
    assert d.routes == {Route("172.30.0.0/16", "flannel.1")}
    assert d.neighs == set()
    assert d.fdbs == {Fdb(N1.vtep_mac, "flannel.1", "192.168.0.21")}


def test_single_node_programs_nothing_remote():
    d = desired([N1], N1.subnet, "routes", "172.30.0.0/16")
    assert (d.routes, d.neighs, d.fdbs) == (set(), set(), set())


def test_on_miss_answers_with_the_owning_nodes_vtep_mac():
    assert on_miss([N1, N2], N1.subnet, "172.30.9.2") == Neigh("172.30.9.2", N2.vtep_mac, "flannel.1")
    assert on_miss([N1, N2], N1.subnet, "172.30.76.5") is None     # our own subnet
    assert on_miss([N1, N2], N1.subnet, "10.254.0.2") is None      # nobody's


def test_stale_neighbours_after_a_node_leaves():
    have = {Neigh("172.30.9.2", N2.vtep_mac, "flannel.1"), Neigh("172.30.5.7", N3.vtep_mac, "flannel.1")}
    assert stale(have, [N1, N2], N1.subnet) == {Neigh("172.30.5.7", N3.vtep_mac, "flannel.1")}


def test_seed_mode_sysctls_report_lookups_to_user_space():
    assert sysctls("seed") == {"net/ipv4/neigh/flannel.1/app_solicit": 3,
                               "net/ipv4/neigh/flannel.1/ucast_solicit": 0,
                               "net/ipv4/neigh/flannel.1/mcast_solicit": 0}
    assert sysctls("routes") == {}


def test_lease_has_flannels_etcd_shape(tmp_path):
    lease = lease_of(seed_cluster(), seed_cluster().nodes[1])
    assert lease.key == "172.30.9.0-24"
    assert lease.to_json().startswith('{"PublicIP": "192.168.0.22", "BackendType": "vxlan", '
                                      '"BackendData": {"VtepMAC": "0e:')
    store = Store(tmp_path)
    store.put(lease)
    v1 = store.version()
    assert store.all() == [lease]
    store.delete(lease.subnet)
    assert store.all() == [] and store.version() != v1


def test_vtep_mac_is_unicast_locally_administered_and_stable():
    mac = vtep_mac("seed", "node1")
    assert re.fullmatch(r"0e(:[0-9a-f]{2}){5}", mac)
    assert mac == vtep_mac("seed", "node1") != vtep_mac("seed", "node2")


def test_a_vtep_mac_change_makes_the_neighbour_entry_stale():
    """The node is still there, with the same subnet, but its flannel.1 was made anew (new MAC):
    the entry pointing at the old MAC must go, the one with the new MAC stays."""
    moved = Lease(N2.subnet, N2.public_ip, "0e:00:00:00:00:22")
    old = Neigh("172.30.9.2", N2.vtep_mac, "flannel.1")
    new = Neigh("172.30.9.2", moved.vtep_mac, "flannel.1")
    assert stale({old, new}, [N1, moved], N1.subnet) == {old}
    assert stale({new}, [N1, moved], N1.subnet) == set()
    # and the routes mode's permanent neighbour and FDB entry follow the new MAC
    d = desired([N1, moved], N1.subnet, "routes", "172.30.0.0/16")
    assert d.neighs == {Neigh("172.30.9.0", moved.vtep_mac, "flannel.1")}
    assert d.fdbs == {Fdb(moved.vtep_mac, "flannel.1", N2.public_ip)}


# ---- flanneld --ip-masq ----------------------------------------------------------------------

def test_masquerade_rules_are_flanneld_ip_masq_rules_exactly():
    assert masquerade("172.30.0.0/16", "172.30.76.0/24") == "\n".join([
        "*nat",
        "-A POSTROUTING -s 172.30.0.0/16 -d 172.30.0.0/16 -j RETURN",
        "-A POSTROUTING -s 172.30.0.0/16 ! -d 224.0.0.0/4 -j MASQUERADE",
        "-A POSTROUTING ! -s 172.30.0.0/16 -d 172.30.76.0/24 -j RETURN",
        "-A POSTROUTING ! -s 172.30.0.0/16 -d 172.30.0.0/16 -j MASQUERADE",
        "COMMIT", ""])


def _verdict(rules: str, src: str, dst: str) -> str:
    """What POSTROUTING (first match, policy ACCEPT) does to a packet src -> dst."""
    from ipaddress import ip_address, ip_network

    for line in rules.splitlines():
        if not line.startswith("-A POSTROUTING"):
            continue
        words = line.split()[2:]
        ok, i = True, 0
        while words[i] != "-j":
            neg = words[i] == "!"
            i += neg
            flag, net = words[i], ip_network(words[i + 1])
            addr = ip_address(src if flag == "-s" else dst)
            ok &= (addr in net) != neg
            i += 2
        if ok:
            return words[i + 1]
    return "ACCEPT"


def test_masquerade_keeps_pod_addresses_between_pods_and_hides_them_outside():
    rules = masquerade("172.30.0.0/16", "172.30.76.0/24")
    assert _verdict(rules, "172.30.76.5", "172.30.9.2") == "RETURN"         # pod -> pod on another node
    assert _verdict(rules, "172.30.76.5", "172.30.76.3") == "RETURN"        # pod -> pod on this node
    assert _verdict(rules, "172.30.76.5", "192.168.0.103") == "MASQUERADE"  # pod -> the db host
    assert _verdict(rules, "172.30.76.5", "224.0.0.251") == "ACCEPT"        # multicast: untouched
    assert _verdict(rules, "192.168.0.50", "172.30.76.3") == "RETURN"       # outside -> this node's pods
    assert _verdict(rules, "192.168.0.50", "172.30.9.2") == "MASQUERADE"    # outside -> another node's
    assert _verdict(rules, "192.168.0.50", "192.168.0.51") == "ACCEPT"      # not pod traffic at all


def test_masquerade_takes_the_cluster_network_and_subnet_given():
    rules = masquerade("10.244.0.0/16", "10.244.3.0/24")
    assert "-A POSTROUTING ! -s 10.244.0.0/16 -d 10.244.3.0/24 -j RETURN" in rules.splitlines()
    assert "172.30" not in rules


def test_a_neighbour_entry_for_the_nodes_own_subnet_is_stale():
    own = Neigh("172.30.76.5", N1.vtep_mac, "flannel.1")
    assert stale({own}, [N1, N2], N1.subnet) == {own}
