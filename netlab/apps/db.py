"""The db host's database: a real MariaDB server holding the shop's product table.

    netlab-db [--password-secret NAMESPACE/NAME/KEY]
                         (run on the db host; its data lives in the lab's state directory)

The first run on a machine initialises a template data directory (about 1.5 s) with
the schema, the products and the application's account; each lab copies it (a
fraction of a second) and runs its own mariadbd on port 3306, in the db host's
namespace only.
"""
from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TEMPLATE = Path(os.environ.get("NETLAB_DB_TEMPLATE", "/var/lib/netlab/mariadb-template-1"))
DATABASE, USER = "shop", "data-product"
PASSWORD = os.environ.get("DB_PASSWORD", "netlab-shop")
PRODUCTS = [(1, "apple", 3.5), (2, "banana", 1.2), (3, "cherry", 7.9), (4, "durian", 12.0)]
SERVER = ["mariadbd", "--no-defaults", "--skip-name-resolve", "--innodb-buffer-pool-size=16M",
          "--innodb-log-file-size=8M", "--skip-log-bin"]


def schema_sql(password: str) -> str:
    rows = ", ".join(f"({i}, '{name}', {price})" for i, name, price in PRODUCTS)
    return (f"CREATE DATABASE {DATABASE};\n"
            f"CREATE TABLE {DATABASE}.product (id INT PRIMARY KEY, name VARCHAR(64) NOT NULL, "
            f"price DECIMAL(8,2) NOT NULL);\n"
            f"INSERT INTO {DATABASE}.product VALUES {rows};\n"
            f"CREATE USER '{USER}'@'%' IDENTIFIED BY '{password}';\n"
            f"GRANT SELECT ON {DATABASE}.* TO '{USER}'@'%';\n")


def _wait_socket(sock: Path, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not sock.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"mariadbd did not start; see {sock.parent}/init.log")
        time.sleep(0.02)


def ensure_template(password: str = PASSWORD) -> Path:
    """Initialise the template once per machine (a marker file says it is complete)."""
    if (TEMPLATE / ".netlab-ready").exists():
        return TEMPLATE
    TEMPLATE.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".init-", dir=TEMPLATE.parent))   # same file system: rename
    data = work / "data"
    subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={data}", "--user=root",
                    "--auth-root-authentication-method=normal", "--skip-test-db",
                    "--innodb-log-file-size=8M"], check=True, stdout=subprocess.DEVNULL)
    sock = work / "init.sock"
    init = work / "init.sql"
    init.write_text(schema_sql(password))
    log = open(work / "init.log", "w")
    proc = subprocess.Popen(SERVER + ["--user=root", f"--datadir={data}", f"--socket={sock}", "--skip-networking",
                                      f"--init-file={init}", f"--pid-file={work}/init.pid"],
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_socket(sock, proc)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    (data / ".netlab-ready").touch()
    shutil.rmtree(TEMPLATE, ignore_errors=True)
    os.replace(data, TEMPLATE)
    shutil.rmtree(work, ignore_errors=True)
    return TEMPLATE


def server_user() -> str:
    """The distribution's user for the server (the mariadb-server package makes it), else root."""
    try:
        pwd.getpwnam("mysql")
        return "mysql"
    except KeyError:
        return "root"


def _own(home: Path, user: str) -> None:
    """The server's directory and all in it, its user's (it drops root at its start)."""
    entry = pwd.getpwnam(user)
    for path in [home, *home.rglob("*")]:
        os.lchown(path, entry.pw_uid, entry.pw_gid)


def secret_value(state: str, ref: str) -> str:
    """NAMESPACE/NAME/KEY of a Secret in the lab's store (the admin set the password from it)."""
    import base64
    import json
    ns, name, key = ref.split("/", 2)
    for s in json.loads(Path(state).read_text())["cluster"]["secrets"]:
        if (s["namespace"], s["name"]) == (ns, name) and key in s["data"]:
            return base64.b64decode(s["data"][key]).decode().strip()   # as data-product reads it
    raise SystemExit(f"netlab-db: secret {ns}/{name} has no key {key!r}")


def main(argv: list[str] | None = None) -> int:
    import argparse
    p = argparse.ArgumentParser(prog="netlab-db", description=__doc__.splitlines()[0])
    p.add_argument("--password-secret", metavar="NAMESPACE/NAME/KEY",
                   help="set the application account's password from this Secret at each start")
    a = p.parse_args(argv)
    state = os.environ.get("NETLAB_STATE")
    if not state:
        print("netlab-db: NETLAB_STATE is not set (the lab starts this program)", file=sys.stderr)
        return 1
    home = Path(state).parent / "db"
    user = server_user()
    # the server's alone: the socket lets root in without a password, the data holds the accounts
    home.mkdir(mode=0o700, exist_ok=True)
    home.chmod(0o700)
    if not (home / "data").exists():
        shutil.copytree(ensure_template(), home / "data", symlinks=True)
    extra = []
    if a.password_secret:
        pw = secret_value(state, a.password_secret).replace("\\", "\\\\").replace("'", "\\'")
        init = home / "init.sql"           # the server's alone: it holds the password
        fd = os.open(init, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(f"ALTER USER '{USER}'@'%' IDENTIFIED BY '{pw}';\n")
        extra = [f"--init-file={init}"]
    _own(home, user)
    print(f"netlab-db: MariaDB on port 3306 as user {user}, data in {home / 'data'}", flush=True)
    os.execvp(SERVER[0], SERVER + [f"--user={user}", *extra, f"--datadir={home / 'data'}",
                                   f"--socket={home / 'mysqld.sock'}", f"--pid-file={home / 'mysqld.pid'}",
                                   "--port=3306", "--bind-address=0.0.0.0"])


if __name__ == "__main__":
    sys.exit(main())
