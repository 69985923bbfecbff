"""EV_Web: the network's public status page (docs/web.md).

    EV_Web --kafka HOST:PORT [--host H] [--port P] [--topic-prefix P] [--city FILE]
           [--tls-cert FILE --tls-key FILE | --insecure] [--kafka-credentials FILE]

Reads ``evc.network.state`` as the read-only ``web`` Kafka role and serves the city map with
every CP's availability and price, live, over HTTPS with the certificate the network's CA
issued (``web.pem`` of the secrets directory, made by ``evc-secrets init`` or ``make run``).
``--insecure`` serves plain HTTP and reads a PLAINTEXT broker, for development only. Headless;
it prints its URL once and logs quietly (``--log-level``). Errors are one line, exit code 2.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import ssl
import sys
from pathlib import Path

from aiohttp import web

from citymap.city import CityMapError, load_city
from web_app.citysvg import city_svg
from web_app.feed import NetworkFeed
from web_app.hub import Hub
from web_app.server import build_app, page_html
from wire import cli
from wire.errors import TlsConfigError
from wire.kafka.security import KafkaSecurity
from wire.kafka.topics import Topics
from wire.logs import setup_logging
from wire.tls import server_context

log = logging.getLogger(__name__)

PROG = "EV_Web"
SECURE_PORT, PLAIN_PORT = 8443, 8080


class WebError(Exception):
    """A problem to tell the user in one line (exit code 2)."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description="EVCharging public status page: the city map with every charging point's "
        "availability and price, live.",
    )
    cli.add_kafka(p)  # --kafka, --topic-prefix
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1; 0.0.0.0 for phones on the network)",
    )
    p.add_argument(
        "--port",
        type=cli.port,
        default=None,
        help=f"HTTPS port (default {SECURE_PORT}; {PLAIN_PORT} with --insecure; 0: any free)",
    )
    p.add_argument("--city", type=Path, default=None, help="city map file (default the demo's)")
    p.add_argument(
        "--title", default="", help="the page's title (default: EVCharging · <city name>)"
    )
    cli.add_server_cert(p, "tls", "web", "HTTPS certificate")
    cli.add_kafka_security(p, "web")  # --kafka-credentials, --insecure
    p.add_argument("--no-gui", action="store_true", help="accepted; EV_Web has no window")
    cli.add_log_level(p)
    return p


def tls_context(args: argparse.Namespace) -> ssl.SSLContext | None:
    """The HTTPS context from ``--tls-cert``/``--tls-key`` or the secrets directory's web
    certificate; None with ``--insecure``. Raises ``WebError``."""
    if args.insecure:
        return None
    defaulted = args.tls_cert is None
    try:
        cert, key = cli.server_cert(args, "tls", "web")
        if defaulted and not (cert.exists() and key.exists()):
            raise WebError(
                f"no HTTPS certificate: {cert} does not exist. Run `make run` or "
                "`evc-secrets init` to create it, pass --tls-cert FILE --tls-key FILE, or "
                "--insecure for plain HTTP (development)"
            )
        return server_context(cert, key)
    except TlsConfigError as exc:
        raise WebError(str(exc)) from exc


def page_for(args: argparse.Namespace) -> str:
    try:
        city = load_city(args.city)
    except CityMapError as exc:
        raise WebError(str(exc)) from exc
    return page_html(city_svg(city), args.title or f"EVCharging · {city.name}")


async def serve(
    args: argparse.Namespace, security: KafkaSecurity | None, context: ssl.SSLContext | None
) -> None:
    """Serve until SIGINT/SIGTERM."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    hub = Hub()
    app = build_app(hub, page_for(args))
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    port = args.port if args.port is not None else (PLAIN_PORT if context is None else SECURE_PORT)
    site = web.TCPSite(runner, args.host, port, ssl_context=context, shutdown_timeout=2.0)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise WebError(f"cannot listen on {args.host}:{port}: {exc.strerror or exc}") from exc
    feed = NetworkFeed(hub, loop, args.kafka, Topics(args.topic_prefix), security)
    feed.start()
    bound = _bound_port(runner) or port
    scheme = "http" if context is None else "https"
    shown = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
    host = f"[{shown}]" if ":" in shown else shown
    print(f"{PROG}: serving {scheme}://{host}:{bound}/", flush=True)
    try:
        await stop.wait()
    finally:
        feed.close()
        await runner.cleanup()


def _bound_port(runner: web.AppRunner) -> int | None:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    return None


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.log_level)
    security = cli.kafka_security(args, "web", PROG)  # may exit 2
    try:
        context = tls_context(args)
        if args.insecure:
            cli.warn_insecure(PROG)
        asyncio.run(serve(args, security, context))
    except WebError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr, flush=True)
        return 2
    except KeyboardInterrupt:
        pass
    with contextlib.suppress(OSError, ValueError):
        print(f"{PROG}: stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
