import pytest

from netlab.cni import ipam
from netlab.errors import NetlabError


def test_first_address_skips_subnet_and_gateway():
    assert ipam.allocate("172.30.76.0/24", set()) == "172.30.76.2"


def test_taken_addresses_are_skipped():
    assert ipam.allocate("172.30.76.0/24", {"172.30.76.2", "172.30.76.3"}) == "172.30.76.4"


def test_released_address_is_reused():
    used = {"172.30.76.2", "172.30.76.4"}          # .3 was released
    assert ipam.allocate("172.30.76.0/24", used) == "172.30.76.3"


def test_broadcast_is_never_handed_out():
    used = {f"172.30.9.{i}" for i in range(2, 7)}
    with pytest.raises(NetlabError, match="172.30.9.0/29 has no free address"):
        ipam.allocate("172.30.9.0/29", used)


def test_reserved():
    assert ipam.reserved("172.30.9.0/24") == {"172.30.9.0", "172.30.9.1", "172.30.9.255"}



def test_a_whole_subnet_is_handed_out_lowest_first_then_refused():
    cidr, used = "172.30.9.0/24", set()
    for _ in range(ipam.size(cidr)):
        used.add(ipam.allocate(cidr, used))
    assert used == {f"172.30.9.{i}" for i in range(2, 255)}
    with pytest.raises(NetlabError, match="no free address"):
        ipam.allocate(cidr, used)
