"""netlab graph on a running seed lab: the SVG and PNG the command writes, what they name."""
import re
from xml.etree import ElementTree

from netlab import layout

from helpers import netlab, sh

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _text(svg: bytes) -> str:
    """Every text and title of the SVG, as a reader sees them (entities decoded)."""
    root = ElementTree.fromstring(svg)
    return "\n".join(e.text or "" for e in root.iter() if e.tag.rsplit("}", 1)[-1] in ("text", "title"))


def test_the_svg_names_every_pod_ip_both_vteps_and_every_node_ip(seed_lab, tmp_path):
    out = tmp_path / "g.svg"
    r = netlab("graph", "--name", seed_lab.name, "-o", str(out))
    assert str(out) in r.stdout
    svg = out.read_bytes()
    text = _text(svg)                        # parses as XML, or this fails
    c = seed_lab.cluster()
    for ip in [p.ip for p in c.pods] + [n.ip for n in c.nodes] + ["172.30.76.0", "172.30.9.0"]:
        assert re.search(rf"(?<![\d.]){re.escape(ip)}(?![\d])", text), ip
    for p in c.pods:
        assert f"pod:{p.namespace}/{p.name}" in text       # the element's title: its id
    # flannel.1's MAC as drawn is the kernel's
    for n in c.nodes:
        link = sh(layout.node_ns(seed_lab.name, n.name), "ip", "-o", "link", "show", "flannel.1").stdout
        mac = re.search(r"link/ether (\S+)", link).group(1)
        assert mac in text


def test_png_and_dot_to_stdout(seed_lab, tmp_path):
    out = tmp_path / "x.png"
    netlab("graph", "--name", seed_lab.name, "-o", str(out))
    assert out.read_bytes()[:8] == PNG_MAGIC
    dot = netlab("graph", "--name", seed_lab.name).stdout
    assert dot.startswith(f'digraph "netlab {seed_lab.name}" {{') and dot.rstrip().endswith("}")


def test_another_suffix_and_a_lab_that_is_not_running_are_one_line(seed_lab, tmp_path):
    r = netlab("graph", "--name", seed_lab.name, "-o", str(tmp_path / "g.pdf"), check=False)
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "must end in .svg, .png or .dot" in r.stderr
    assert not (tmp_path / "g.pdf").exists()
    r = netlab("graph", "--name", "nosuchlab", check=False)
    assert r.returncode == 1 and "is not running" in r.stderr
