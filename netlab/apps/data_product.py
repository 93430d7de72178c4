"""data-product: lists the shop's products, read from the database through the `mysql` Service.

    netlab-data-product [--port 50051]

GET /api/v1/product/list -> {"products": [...], "served_by": {pod, ip, node}}.
It listens only while the database answers (checked every second), so the pod
is ready (and in its Service's Endpoints) only when it can serve. Credentials come from the environment:
DB_HOST (default mysql), DB_PORT, DB_USER, DB_NAME, and the password from the file DB_PASSWORD_FILE
(a Secret volume, read at each connection so a rotated Secret is used) or else DB_PASSWORD.
"""
from __future__ import annotations

import argparse
import os
import sys

from concurrent.futures import ThreadPoolExecutor, TimeoutError as FutureTimeout

import pymysql

from netlab.apps.http import drain, me, on_sigterm, start

HEALTH_PERIOD = 1.0
NOT_READY_DRAIN = 0.8     # seconds of requests in flight answered before the port closes


def password() -> str:
    path = os.environ.get("DB_PASSWORD_FILE")
    if path:
        with open(path) as f:
            return f.read().strip()
    return os.environ.get("DB_PASSWORD", "")


def connect():
    return pymysql.connect(host=os.environ.get("DB_HOST", "mysql"), port=int(os.environ.get("DB_PORT", "3306")),
                           user=os.environ.get("DB_USER", "data-product"), password=password(),
                           database=os.environ.get("DB_NAME", "shop"), connect_timeout=2,
                           # the lab's MariaDB has no TLS; PyMySQL 1.2 would otherwise build an SSL
                           # context (loading every CA certificate: about 40 ms) for each connection
                           ssl_disabled=True)


def products(_request=None) -> dict:
    with connect() as db, db.cursor() as cur:
        cur.execute("SELECT id, name, price FROM product ORDER BY id")
        rows = [{"id": i, "name": n, "price": float(p)} for i, n, p in cur.fetchall()]
    return {"products": rows, "served_by": me()}


def db_answers(pool: ThreadPoolExecutor) -> bool:
    """One attempt, given a second: a name lookup left unanswered would
    otherwise wait for the resolver's 5 s time-out."""
    try:
        pool.submit(lambda: connect().close()).result(timeout=1.0)
        return True
    except (pymysql.MySQLError, OSError, FutureTimeout) as e:
        print(f"the database does not answer: {e or 'no answer within 1 s'}", flush=True)
        return False


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="netlab-data-product", description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=50051)
    a = p.parse_args(argv)
    pool = ThreadPoolExecutor(4)
    stop = on_sigterm()
    while not stop.is_set():
        # Ready (listening, so the kubelet's probe passes) only while the database answers.
        while not db_answers(pool):
            if stop.wait(0.05):
                return 0
        server = start(a.port, {"/api/v1/product/list": products})
        while not stop.wait(HEALTH_PERIOD) and db_answers(pool):
            pass
        if stop.is_set():
            drain(server)
        else:       # still in the Endpoints till the kubelet finds the port closed: connections keep coming
            print("not ready: closing the port until the database answers again", flush=True)
            drain(server, limit=NOT_READY_DRAIN)
    return 0


if __name__ == "__main__":
    sys.exit(main())
