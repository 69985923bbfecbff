"""``MonitorPort``: the monitors' TCP port — its TLS context, the socket bound before anything
else is opened (a second Central on a busy port fails at once and says nothing else), and the
``FramedServer`` that serves it on the owner's loop."""

from __future__ import annotations

import errno
import logging
import socket
import ssl

from central_app.config import CentralConfig, StartError
from central_app.monitor_handler import MonitorHandler
from central_app.monitors import MonitorDesk
from central_app.owner import Owner
from wire.errors import TlsConfigError
from wire.limits import raise_open_files_limit, safe_max_connections
from wire.tcp_server import FramedServer
from wire.tls import server_context

log = logging.getLogger(__name__)

# REGISTER waits for its database batch; EV_CP_M waits 10 s for an answer
HANDLER_TIMEOUT = 8.0


def tls_context(cfg: CentralConfig) -> ssl.SSLContext | None:
    """The monitor link's TLS (docs/security.md, layer 4); None with ``--insecure``."""
    if cfg.insecure:
        return None
    if cfg.tls_cert is None or cfg.tls_key is None:
        raise StartError(
            "no TLS certificate and key for the monitor link (--tls-cert/--tls-key); "
            "create them with `evc-secrets init`, or run with --insecure for development"
        )
    try:
        return server_context(cfg.tls_cert, cfg.tls_key)
    except TlsConfigError as exc:
        raise StartError(
            f"{exc}; create the secrets with `evc-secrets init` (or `make run`), pass "
            "--tls-cert/--tls-key, or run with --insecure for development"
        ) from exc


class MonitorPort:
    def __init__(self, cfg: CentralConfig) -> None:
        self._cfg = cfg
        self.tls = tls_context(cfg)
        self.open_files = raise_open_files_limit()
        self.port = 0
        self.server: FramedServer | None = None
        self._sock: socket.socket | None = None

    @property
    def max_sessions(self) -> int:
        """The monitor sessions the open-files limit leaves room for (``wire.limits``)."""
        return safe_max_connections(self.open_files)

    def bind(self) -> None:
        """Bind the port now (``port`` is the one bound: the system's choice for port 0)."""
        cfg = self._cfg
        try:
            sock = socket.create_server(
                (cfg.host, cfg.port),
                family=socket.AF_INET6 if ":" in cfg.host else socket.AF_INET,
                backlog=4096,
                reuse_port=False,
            )
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise StartError(
                    f"cannot listen on port {cfg.port}: {exc.strerror} — another program "
                    "(another EV_Central?) listens there; stop it or choose another --port"
                ) from exc
            if exc.errno == errno.EACCES:
                raise StartError(f"cannot listen on port {cfg.port}: {exc.strerror}") from exc
            raise StartError(f"cannot listen on {cfg.host}:{cfg.port}: {exc}") from exc
        sock.setblocking(False)
        self._sock = sock
        self.port = sock.getsockname()[1]

    def close_socket(self) -> None:
        """Close the bound socket that no server took over (a start that failed)."""
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()

    def serve(self, owner: Owner, monitors: MonitorDesk) -> None:
        """Serve the bound socket on the owner's loop: the desk answers inline."""
        assert self._sock is not None
        handler = MonitorHandler(monitors)
        cfg = self._cfg
        sock = self._sock

        async def make() -> FramedServer:
            server = FramedServer(
                handler,
                sock=sock,
                stall_timeout=cfg.stall_timeout,
                idle_timeout=cfg.idle_timeout,
                on_close=handler.on_close,
                max_connections=self.max_sessions,
                handler_timeout=HANDLER_TIMEOUT,
                ssl=self.tls,
            )
            await server.start()
            return server

        self.server = owner.run(make()).result(timeout=10)
        self._sock = None  # the server owns it now

    def close(self, owner: Owner) -> None:
        """Close the server (its connections too) and whatever socket is still bound."""
        if self.server is not None and owner.loop is not None:
            try:
                owner.run(self.server.close(timeout=3)).result(timeout=5)
            except Exception:
                log.exception("closing the TCP server")
        self.close_socket()
