"""What netlab does as a pod's container runtime: netlab.container (no root needed)."""
import os
import stat
import tempfile
from pathlib import Path

import pytest

from netlab import container
from netlab.container import Mount
from netlab.errors import NetlabError
from netlab.kernel.process import Sandbox


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


# ---------------------------------------------------------------- overlay_points

def _exists(*paths):
    """A fake file system holding these directories (and /)."""
    there = {"/", *paths}
    return lambda p: p in there


def test_overlay_points_none_when_every_target_exists():
    fs = _exists("/etc", "/etc/db")
    assert container.overlay_points([Mount("/src", "/etc/db")], exists=fs) == []


def test_overlay_point_is_the_nearest_existing_ancestor():
    fs = _exists("/etc", "/etc/app")
    assert container.overlay_points([Mount("/src", "/etc/app/conf/d")], exists=fs) == ["/etc/app"]


def test_overlay_points_are_deduplicated_and_parents_first():
    fs = _exists("/etc", "/var", "/var/lib", "/var/lib/app", "/srv")
    mounts = [Mount("/s1", "/var/lib/app/x"), Mount("/s2", "/etc/a"), Mount("/s3", "/etc/b/c"),
              Mount("/s4", "/srv/secrets/db"), Mount("/s5", "/var/new")]
    assert container.overlay_points(mounts, exists=fs) == ["/etc", "/srv", "/var", "/var/lib/app"]


@pytest.mark.parametrize("target", ["/run/secrets/kubernetes.io/token", "/tmp/conf", "/dev/shm/x", "/run"])
def test_mount_points_in_the_pods_own_directories_need_no_layer(target):
    # the pod's /run, /tmp and /dev/shm are empty file systems of its own: made there
    assert container.overlay_points([Mount("/src", target)], exists=_exists("/etc")) == []


def test_overlay_points_ignore_existing_targets_among_missing_ones():
    fs = _exists("/etc", "/etc/ssl")
    mounts = [Mount("/s1", "/etc/ssl"), Mount("/s2", "/etc/new")]
    assert container.overlay_points(mounts, exists=fs) == ["/etc"]


@pytest.mark.parametrize("target", ["/secrets", "/secrets/db/password"])
def test_mount_that_would_need_an_overlay_on_root_is_refused(target):
    with pytest.raises(NetlabError, match="would cover /, hiding the whole file system") as e:
        container.overlay_points([Mount("/src", target)], exists=_exists("/etc"))
    msg = str(e.value)
    assert target in msg and "would cover /, hiding the whole file system" in msg


def test_overlay_points_default_uses_the_real_file_system():
    with tempfile.TemporaryDirectory(dir="/var/tmp") as d:     # (not under the pods' own /tmp)
        (Path(d) / "have").mkdir()
        points = container.overlay_points([Mount("/src", f"{d}/have/new/deeper")])
        assert points == [f"{d}/have"]


# ---------------------------------------------------------------- sandbox

def test_sandbox_without_mounts():
    assert container.sandbox("ns1", 0) == Sandbox("ns1", 0, (), ())
    assert container.sandbox("ns1", 2001).uid == 2001


def test_sandbox_layers_are_numbered_in_the_scratch_directory():
    mounts = [Mount("/lab/pod/volumes/db", "/etc/db/secret"), Mount("/lab/pod/volumes/cfg", "/run/app")]
    box = container.sandbox("ns1", 2001, mounts, ["/etc", "/run"], "/lab/pod/layers")
    assert box.overlays == (("/etc", "/lab/pod/layers/0"), ("/run", "/lab/pod/layers/1"))
    assert box.binds == (("/lab/pod/volumes/db", "/etc/db/secret"), ("/lab/pod/volumes/cfg", "/run/app"))


@pytest.mark.parametrize("odd", ["/etc/with space", "/etc/it's", "/etc/x; touch /tmp/netlab-pwned; y",
                                 "/etc/$(id)`id`$HOME", "/etc/new\nline"])
def test_odd_paths_reach_the_mount_calls_unchanged(odd):
    """No shell between netlab and mount(2): a path is one argument whatever it holds."""
    box = container.sandbox("ns", 0, [Mount("/vol" + odd, odd)], [odd.rsplit("/", 1)[0]], "/scr atch")
    assert box.binds == (("/vol" + odd, odd),)
    assert box.overlays == ((odd.rsplit("/", 1)[0], "/scr atch/0"),)


# ---------------------------------------------------------------- private_dir / write_files

def test_private_dir_makes_parents_and_is_0700(tmp_path):
    d = tmp_path / "a" / "b"
    assert container.private_dir(d, os.getuid()) == d
    assert d.is_dir() and _mode(d) == 0o700


def test_private_dir_tightens_an_existing_directory(tmp_path):
    d = tmp_path / "open"
    d.mkdir(mode=0o755)
    os.chmod(d, 0o755)
    container.private_dir(d, os.getuid())
    assert _mode(d) == 0o700


def _tree(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in d.rglob("*") if p.is_file()}


def test_write_files_writes_private_files_and_dirs(tmp_path):
    d = tmp_path / "vol"
    assert container.write_files(d, {"password": b"pw", "sub/file": b"\x00x"}, os.getuid()) is True
    assert _tree(d) == {"password": b"pw", "sub/file": b"\x00x"}
    assert _mode(d) == 0o750 and _mode(d / "sub") == 0o750
    assert _mode(d / "password") == 0o600 and _mode(d / "sub" / "file") == 0o600
    assert os.stat(d / "password").st_uid == os.getuid()


def test_write_files_deep_item_path_dirs_are_all_private(tmp_path):
    d = tmp_path / "vol"
    container.write_files(d, {"a/b/file": b"x"}, os.getuid())
    assert _mode(d / "a") == 0o750 and _mode(d / "a" / "b") == 0o750


def test_write_files_unchanged_is_false_and_does_not_rewrite(tmp_path):
    d = tmp_path / "vol"
    files = {"a": b"1", "sub/b": b"2"}
    container.write_files(d, files, os.getuid())
    past = 1_000_000_000
    os.utime(d / "a", (past, past))
    os.utime(d / "sub" / "b", (past, past))
    before = {k: os.stat(d / k) for k in files}
    assert container.write_files(d, dict(files), os.getuid()) is False
    after = {k: os.stat(d / k) for k in files}
    assert {k: (s.st_ino, s.st_mtime) for k, s in after.items()} == \
           {k: (s.st_ino, s.st_mtime) for k, s in before.items()}


def test_write_files_replaces_changed_content_with_a_new_file(tmp_path):
    d = tmp_path / "vol"
    container.write_files(d, {"a": b"old", "b": b"same"}, os.getuid())
    ino_a, ino_b = os.stat(d / "a").st_ino, os.stat(d / "b").st_ino
    with open(d / "a", "rb") as reader:         # a reader of the old file keeps reading the old value
        assert container.write_files(d, {"a": b"new value", "b": b"same"}, os.getuid()) is True
        assert reader.read() == b"old"
    assert (d / "a").read_bytes() == b"new value"
    assert os.stat(d / "a").st_ino != ino_a and os.stat(d / "b").st_ino == ino_b
    assert _mode(d / "a") == 0o600
    assert sorted(p.name for p in d.iterdir()) == ["a", "b"]          # no temporary file left


def test_write_files_removes_keys_and_prunes_empty_dirs(tmp_path):
    d = tmp_path / "vol"
    container.write_files(d, {"keep": b"k", "gone": b"g", "x/y/z": b"1", "x/w": b"2", "q/r": b"3"}, os.getuid())
    assert container.write_files(d, {"keep": b"k", "x/w": b"2"}, os.getuid()) is True
    assert _tree(d) == {"keep": b"k", "x/w": b"2"}
    assert sorted(str(p.relative_to(d)) for p in d.rglob("*")) == ["keep", "x", "x/w"]


def test_write_files_removing_only_is_a_change(tmp_path):
    d = tmp_path / "vol"
    container.write_files(d, {"a": b"1", "b": b"2"}, os.getuid())
    assert container.write_files(d, {"a": b"1"}, os.getuid()) is True
    assert container.write_files(d, {"a": b"1"}, os.getuid()) is False


def test_write_files_removes_strays_such_as_an_old_temporary_file(tmp_path):
    d = tmp_path / "vol"
    container.write_files(d, {"a": b"1"}, os.getuid())
    (d / ".a.tmp").write_bytes(b"half")
    assert container.write_files(d, {"a": b"1"}, os.getuid()) is True
    assert sorted(p.name for p in d.iterdir()) == ["a"]


def test_write_files_empty_makes_an_empty_private_dir(tmp_path):
    d = tmp_path / "vol"
    assert container.write_files(d, {}, os.getuid()) is False
    assert d.is_dir() and list(d.iterdir()) == [] and _mode(d) == 0o750


def test_write_files_file_becomes_directory(tmp_path):
    d = tmp_path / "vol"
    container.write_files(d, {"a": b"1"}, os.getuid())
    container.write_files(d, {"a/b": b"2"}, os.getuid())
    assert _tree(d) == {"a/b": b"2"}


def test_write_files_directory_becomes_file(tmp_path):
    d = tmp_path / "vol"
    container.write_files(d, {"a/b": b"1"}, os.getuid())
    container.write_files(d, {"a": b"2"}, os.getuid())
    assert _tree(d) == {"a": b"2"}


def test_write_files_does_not_follow_a_planted_symlink(tmp_path):
    d = tmp_path / "vol"
    container.write_files(d, {"sub/file": b"1"}, os.getuid())
    outside = tmp_path / "outside"
    outside.mkdir()
    os.chmod(outside, 0o755)
    (d / "sub" / "file").unlink()
    (d / "sub").rmdir()
    (d / "sub").symlink_to(outside)              # if the pod's user could write in `d` (it cannot: root's, 0750)
    try:
        container.write_files(d, {"sub/file": b"2"}, os.getuid())
    except OSError:
        pass                                      # refusing is fine; touching `outside` is not
    assert _mode(outside) == 0o755 and list(outside.iterdir()) == []


def test_write_files_removes_a_stray_symlink_to_a_directory(tmp_path):
    d = tmp_path / "vol"
    container.write_files(d, {"a": b"1"}, os.getuid())
    (tmp_path / "empty").mkdir()
    (d / "link").symlink_to(tmp_path / "empty")
    container.write_files(d, {"a": b"1"}, os.getuid())
    assert sorted(p.name for p in d.iterdir()) == ["a"] and (tmp_path / "empty").is_dir()


# ---------------------------------------------------------------- reachable_by_others

@pytest.fixture
def open_tmp():
    """A directory under the system's temporary directory that every user may enter."""
    d = Path(tempfile.mkdtemp())
    os.chmod(d, 0o711)
    for p in [d, *d.parents]:
        if not os.stat(p).st_mode & stat.S_IXOTH:
            pytest.skip(f"{p} is not enterable by others on this machine")
    yield d
    for p in sorted(d.rglob("*"), reverse=True):
        if p.is_dir() and not p.is_symlink():
            os.chmod(p, 0o700)
            p.rmdir()
        else:
            p.unlink()
    d.rmdir()


def test_reachable_when_every_directory_can_be_entered(open_tmp):
    (open_tmp / "a").mkdir(mode=0o711)
    os.chmod(open_tmp / "a", 0o711)
    (open_tmp / "a" / "prog").write_text("")
    assert container.reachable_by_others([str(open_tmp), str(open_tmp / "a")]) is None


def test_closed_directory_is_named(open_tmp):
    closed = open_tmp / "closed"
    closed.mkdir()
    os.chmod(closed, 0o700)
    (closed / "inner").mkdir()
    os.chmod(closed / "inner", 0o755)
    assert container.reachable_by_others([str(open_tmp), str(closed / "inner")]) == str(closed)


def test_closed_directory_behind_a_symlink_is_found(open_tmp):
    closed = open_tmp / "closed"
    closed.mkdir()
    os.chmod(closed, 0o700)
    (closed / "lib").mkdir(mode=0o755)
    (open_tmp / "link").symlink_to(closed / "lib")
    assert container.reachable_by_others([str(open_tmp / "link")]) == str(closed)


# ---------------------------------------------------------------- make_scratch

def test_make_scratch_upper_takes_the_covered_directorys_mode(tmp_path):
    first, second = tmp_path / "etc", tmp_path / "run"
    first.mkdir()
    second.mkdir()
    os.chmod(first, 0o750)
    os.chmod(second, 0o755)
    scratch = tmp_path / "layers"
    container.make_scratch(scratch, [str(first), str(second)])
    assert _mode(scratch / "0" / "upper") == 0o750 and _mode(scratch / "1" / "upper") == 0o755
    assert _mode(scratch / "0" / "work") == 0o700 and _mode(scratch / "1" / "work") == 0o700
    st, up = os.stat(first), os.stat(scratch / "0" / "upper")
    assert (up.st_uid, up.st_gid) == (st.st_uid, st.st_gid)
    assert sorted(p.name for p in scratch.iterdir()) == ["0", "1"]


def test_make_scratch_starts_each_layer_afresh(tmp_path):
    """A restarted pod gets clean layers, also when its overlay points changed."""
    point = tmp_path / "etc"
    point.mkdir()
    os.chmod(point, 0o750)
    container.make_scratch(tmp_path / "layers", [str(point), str(tmp_path)])
    (tmp_path / "layers" / "0" / "upper" / "left-over").write_text("x")
    container.make_scratch(tmp_path / "layers", [str(point)])
    assert list((tmp_path / "layers" / "0" / "upper").iterdir()) == []
    assert not (tmp_path / "layers" / "1").exists()
    assert _mode(tmp_path / "layers" / "0" / "upper") == 0o750


def test_a_layer_must_not_hide_what_the_lab_keeps_changing():
    existing = {"/", "/var", "/var/lib", "/var/lib/netlab", "/etc", "/etc/netns"}     # NETLAB_RUN_DIR=/var/lib/netlab
    with pytest.raises(NetlabError, match=r"mountPath /var/lib/db: .* would cover /var/lib, hiding /var/lib/netlab"):
        container.overlay_points([container.Mount("/src", "/var/lib/db")], existing.__contains__,
                                 keep=("/run/netns", "/var/lib/netlab"))
    assert container.overlay_points([container.Mount("/src", "/etc/db")], existing.__contains__,
                                    keep=("/run/netns", "/run/netlab")) == ["/etc"]


def test_make_scratch_without_overlays_makes_nothing(tmp_path):
    container.make_scratch(tmp_path / "layers", [])
    assert not (tmp_path / "layers").exists()
