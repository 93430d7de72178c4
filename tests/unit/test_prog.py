from netlab import prog


def test_the_name_called_by():
    assert prog.name("/usr/local/bin/kube-netlab") == "kube-netlab"
    assert prog.name("/usr/local/bin/netlab") == "netlab"
    assert prog.name("/x/pytest") == "netlab" and prog.name("") == "netlab"


def test_messages_name_the_command_called():
    text = ("netlab: lab 'x' exists already (netlab down --name x, or netlab clean after a crash); "
            "netlab-whoami, netlab's seed, /run/netlab/x, (try: sudo netlab ...)")
    assert prog.named(text, "kube-netlab") == (
        "kube-netlab: lab 'x' exists already (kube-netlab down --name x, or kube-netlab clean after a crash); "
        "netlab-whoami, netlab's seed, /run/netlab/x, (try: sudo kube-netlab ...)")
    assert prog.named(text, "netlab") == text
