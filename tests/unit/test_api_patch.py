"""The patches the lab's API takes: JSON merge patch (RFC 7386's own examples) and strategic
merge patch as kubectl apply computes them (merge keys, directives)."""
import pytest

from netlab.api import patch


@pytest.mark.parametrize("target, change, result", [       # RFC 7386, appendix A
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
])
def test_merge_patch_as_rfc_7386_gives_it(target, change, result):
    assert patch.merge_patch(target, change) == result


DEPLOYMENT = {
    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "labels": {"app": "d"}},
    "spec": {"replicas": 2, "template": {"spec": {"containers": [
        {"name": "web", "image": "a", "ports": [{"containerPort": 80, "name": "http"}],
         "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
        {"name": "side", "image": "s"}]}}}}


def test_containers_merge_by_name_and_their_lists_by_their_keys():
    out = patch.strategic_merge("Deployment", DEPLOYMENT, {"spec": {"template": {"spec": {"containers": [
        {"name": "web", "image": "b", "env": [{"name": "B", "value": "3"}, {"name": "C", "value": "4"}],
         "ports": [{"containerPort": 8080}]}]}}}})
    web, side = out["spec"]["template"]["spec"]["containers"]
    assert web["image"] == "b" and side == {"name": "side", "image": "s"}
    assert web["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "3"}, {"name": "C", "value": "4"}]
    assert web["ports"] == [{"containerPort": 80, "name": "http"}, {"containerPort": 8080}]
    assert out["spec"]["replicas"] == 2 and DEPLOYMENT["spec"]["replicas"] == 2       # the target is untouched


def test_directives_delete_replace_order_and_retain():
    out = patch.strategic_merge("Deployment", DEPLOYMENT, {
        "metadata": {"labels": {"app": None, "tier": "web"}},
        "spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "side"}, {"name": "web"}],
            "containers": [{"name": "web", "env": [{"name": "A", "$patch": "delete"}]}]}}}})
    assert out["metadata"]["labels"] == {"tier": "web"}
    containers = out["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["side", "web"]
    assert containers[1]["env"] == [{"name": "B", "value": "2"}]
    replaced = patch.strategic_merge("Deployment", DEPLOYMENT, {"spec": {"template": {"spec": {
        "containers": [{"name": "only", "image": "o"}, {"$patch": "replace"}]}}}})
    assert replaced["spec"]["template"]["spec"]["containers"] == [{"name": "only", "image": "o"}]
    whole = patch.strategic_merge("Deployment", DEPLOYMENT, {"metadata": {"$patch": "replace", "name": "d"}})
    assert whole["metadata"] == {"name": "d"}
    kept = patch.strategic_merge("Deployment", {"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {}}}},
                                 {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}})
    assert kept["spec"]["strategy"] == {"type": "Recreate"}


def test_a_services_ports_merge_by_port_and_other_lists_are_replaced():
    svc = {"kind": "Service", "spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 443}],
                                       "externalIPs": ["1.2.3.4"]}}
    out = patch.strategic_merge("Service", svc, {"spec": {"ports": [{"port": 80, "targetPort": 9090}],
                                                          "externalIPs": ["5.6.7.8"]}})
    assert out["spec"]["ports"] == [{"port": 80, "targetPort": 9090}, {"port": 443}]
    assert out["spec"]["externalIPs"] == ["5.6.7.8"]
    policy = {"spec": {"ingress": [{"ports": [{"port": 80}]}]}}
    out = patch.strategic_merge("NetworkPolicy", policy, {"spec": {"ingress": [{"ports": [{"port": 81}]}]}})
    assert out["spec"]["ingress"] == [{"ports": [{"port": 81}]}]


def test_finalizers_merge_as_a_set_and_can_be_deleted_from():
    ns = {"metadata": {"finalizers": ["a", "b"]}}
    assert patch.strategic_merge("Namespace", ns, {"metadata": {"finalizers": ["b", "c"]}})["metadata"] == \
        {"finalizers": ["a", "b", "c"]}
    assert patch.strategic_merge("Namespace", ns, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}) \
        == {"metadata": {"finalizers": ["b"]}}


def test_a_bad_strategic_patch_names_its_place():
    with pytest.raises(patch.PatchError, match=r"^spec\.template\.spec\.containers: an element of the list has "
                                               r"no merge key 'name'$"):
        patch.strategic_merge("Deployment", DEPLOYMENT, {"spec": {"template": {"spec": {"containers": [{"x": 1}]}}}})
    with pytest.raises(patch.PatchError, match=r"^metadata: unknown \$patch directive 'merge'$"):
        patch.strategic_merge("Deployment", DEPLOYMENT, {"metadata": {"$patch": "merge"}})
