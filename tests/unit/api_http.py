"""A lab's API server over plain HTTP on the loopback, for the unit tests (TLS is the
integration tests')."""
import contextlib
import threading

from netlab.api.server import Server
from netlab.api.store import Store

TOKEN = "t0ken"


@contextlib.contextmanager
def serving(lab, follow: bool):
    """The server on a free port; `follow`: its store keeps in step with the record by itself."""
    store = Store(lab)
    store.refresh(force=True)
    srv = Server(0, store, TOKEN, None)
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    if follow:
        threading.Thread(target=store.follow, daemon=True).start()
    try:
        yield srv
    finally:
        store.stop()
        srv.shutdown()
        srv.server_close()
