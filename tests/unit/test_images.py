"""Images are not pulled: the warning that says what runs instead, and the pods with nothing to run."""
from netlab.model import controller, images, manifests, topology
from netlab.model.images import Workload as W
from netlab.model.objects import Pod


def test_warning_names_each_image_and_what_runs_instead():
    line = images.warning([W("deployment", "web", "nginx:1.25", ()), W("pod", "x", "busybox", ("sleep", "1000")),
                           W("pod", "who", "netlab", ("netlab-whoami", "--port", "80"))])
    assert line == ('images are not pulled: deployment/web (nginx:1.25) runs nothing; '
                    'pod/x (busybox) runs its command ["sleep", "1000"]; '
                    "pod/who (netlab) runs netlab's built-in netlab-whoami")


def test_nothing_to_say_without_images_and_with_commands():
    assert images.warning([]) is None
    assert images.warning([W("pod", "a", "", ("netlab-whoami",))]) is None


def test_a_pod_without_image_and_command_is_named_too():
    assert images.warning([W("pod", "a", "", ())]) == "images are not pulled: pod/a runs nothing"


def test_many_objects_are_grouped_and_counted():
    line = images.warning([W("pod", f"p{i}", "nginx", ()) for i in range(7)]
                          + [W("deployment", "d", "x", ("sleep", "1")), W("deployment", "e", "y", ("sleep", "1"))])
    assert line == ('images are not pulled: pod/p0 (nginx), pod/p1 (nginx), pod/p2 (nginx) and 4 more run nothing; '
                    'deployment/d (x) and deployment/e (y) run their command ["sleep", "1"]')


def test_long_commands_are_cut_at_an_argument():
    text = images.runs(tuple("abcdefghijklmnopqrstuvwxyz"))
    assert text == 'its command ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", ...]'
    assert len(text) <= len("its command ") + images.COMMAND_WIDTH


def test_manifests_keep_the_image_and_of_reads_it(tmp_path):
    f = tmp_path / "m.yaml"
    f.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n"
                 "spec: {containers: [{name: c, image: busybox, command: [sleep], args: ['1000']}]}\n")
    [m] = manifests.load(f)
    assert images.of(m.kind, m.obj) == W("pod", "x", "busybox", ("sleep", "1000"))


def test_waiting_reason_of_a_pod_with_nothing_to_run():
    assert images.waiting_reason(Pod("x", "default", "node1", "172.30.76.9")) == "NoCommand"
    assert images.waiting_reason(Pod("x", "default", "node1", "172.30.76.9", command=["sleep", "1"])) is None
    assert "images are not pulled" in images.message("NoCommand")
    assert images.message("CreateContainerConfigError") is None


def test_pods_netlab_makes_run_netlab_whoami():
    c = topology.parse({"nodes": [{"name": "n1", "ip": "192.168.0.21", "podCIDR": "172.30.1.0/24"}],
                        "deployments": [{"name": "web", "replicas": 2}], "pods": [{"name": "p"}]})
    assert all(p.command == ["netlab-whoami", "--port", "8080"] and p.container_ports == {"http": 8080}
               for p in c.pods) and len(c.pods) == 3
    assert controller.bare_pod(c, "n1", 0.0).command == ["netlab-whoami", "--port", "8080"]
    # containers given without a command: the user's choice, nothing runs
    c = topology.parse({"nodes": [{"name": "n1", "ip": "192.168.0.21", "podCIDR": "172.30.1.0/24"}],
                        "pods": [{"name": "p", "containers": [{"name": "c", "image": "nginx"}]}]})
    assert c.pods[0].command == [] and c.pods[0].image == "nginx"
