"""EV_Web's HTTP side (aiohttp): the page, its live stream, a JSON snapshot, a health probe.

    GET /            the page: the city map (SVG drawn at start) and the list, filled by JS
    GET /events      server-sent events: ``status``, ``snapshot``, then ``cp`` per change
    GET /api/cps     every CP's public state as JSON (scripts, no browser needed)
    GET /states.css  the states' colours, from ``web_app.board.LOOKS`` (one source of truth)
    GET /healthz     ``ok``: the process serves
    GET /static/...  the page's script and style sheet

The page carries no inline script or style, so its Content-Security-Policy allows only this
server's own files; nothing is loaded from elsewhere. An error in a handler is logged as one
line and the browser gets a plain "500 Internal Server Error", never a traceback.
"""

from __future__ import annotations

import asyncio
import logging
from html import escape
from pathlib import Path

from aiohttp import web

from web_app.board import LOOKS
from web_app.hub import Hub

__all__ = ["build_app", "page_html", "states_css"]

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
KEEPALIVE_S = 15.0  # a comment line this often, so proxies and phones keep the stream open
WRITE_TIMEOUT_S = 10.0  # a browser that takes longer to accept one event is dropped
RETRY_MS = 2000  # how soon a browser reconnects after losing the stream

HUB: web.AppKey[Hub] = web.AppKey("hub", Hub)
PAGE: web.AppKey[str] = web.AppKey("page", str)
STREAMS: web.AppKey[set[asyncio.Task[object]]] = web.AppKey("streams", set)

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def states_css() -> str:
    """One class per availability: ``--fill`` and ``--ink`` for the map marker and the badge."""
    return "".join(
        f".state-{state.value}{{--fill:{look.fill};--ink:{look.ink}}}\n"
        for state, look in LOOKS.items()
    )


def page_html(map_svg: str, title: str) -> str:
    """The page with the map and the legend in place (from ``static/index.html``)."""
    legend = "\n".join(
        f'<li class="state-{state.value}" data-state="{state.value}"><span class="badge" aria-hidden="true">'
        f"{look.symbol}</span>{escape(look.label)}</li>"
        for state, look in LOOKS.items()
    )
    template = (STATIC / "index.html").read_text(encoding="utf-8")
    return (
        template.replace("{{TITLE}}", escape(title))
        .replace("{{LEGEND}}", legend)
        .replace("{{MAP}}", map_svg)
    )


@web.middleware
async def _guard(request: web.Request, handler):  # type: ignore[no-untyped-def]
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers.update(SECURITY_HEADERS)
        raise
    except (asyncio.CancelledError, ConnectionResetError):
        raise
    except Exception as exc:  # the one place a handler's bug becomes a plain 500
        log.error("%s %s failed: %s: %s", request.method, request.path, type(exc).__name__, exc)
        raise web.HTTPInternalServerError(headers=SECURITY_HEADERS) from None
    response.headers.update(SECURITY_HEADERS)
    if request.secure:
        response.headers["Strict-Transport-Security"] = "max-age=31536000"
    return response


async def _page(request: web.Request) -> web.Response:
    return web.Response(
        text=request.app[PAGE],
        content_type="text/html",
        headers={"Cache-Control": "no-cache"},
    )


async def _states_css(_request: web.Request) -> web.Response:
    return web.Response(text=states_css(), content_type="text/css")


async def _healthz(_request: web.Request) -> web.Response:
    return web.Response(text="ok\n")


async def _cps(request: web.Request) -> web.Response:
    hub = request.app[HUB]
    return web.json_response({"status": hub.status.to_json(), "cps": hub.board.snapshot()})


async def _events(request: web.Request) -> web.StreamResponse:
    hub = request.app[HUB]
    task = asyncio.current_task()
    streams = request.app[STREAMS]
    if task is not None:
        streams.add(task)
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
            **SECURITY_HEADERS,
        }
    )
    queue = hub.subscribe()
    try:
        await response.prepare(request)
        await _write(response, f"retry: {RETRY_MS}\n\n".encode())
        while True:
            try:
                async with asyncio.timeout(KEEPALIVE_S):
                    data = await queue.get()
            except TimeoutError:
                data = b": keep-alive\n\n"
            if data is None:  # the hub ended this stream (shutdown, or too far behind)
                break
            await _write(response, data)
    except (ConnectionResetError, TimeoutError) as exc:
        log.debug("a browser's stream ended: %s", exc or type(exc).__name__)
    finally:
        hub.unsubscribe(queue)
        if task is not None:
            streams.discard(task)
    return response


async def _write(response: web.StreamResponse, data: bytes) -> None:
    async with asyncio.timeout(WRITE_TIMEOUT_S):
        await response.write(data)


async def _no_server_banner(_request: web.Request, response: web.StreamResponse) -> None:
    """No ``Server: Python/3.11 aiohttp/…``: a public page need not name its software."""
    response.headers.pop("Server", None)


async def _end_streams(app: web.Application) -> None:
    """On shutdown: end every stream (the hub's end marker), then cancel what is left."""
    app[HUB].close()
    tasks = list(app[STREAMS])
    if tasks:
        _done, pending = await asyncio.wait(tasks, timeout=1.0)
        for task in pending:
            task.cancel()


def build_app(hub: Hub, page: str) -> web.Application:
    app = web.Application(middlewares=[_guard])
    app[HUB] = hub
    app[PAGE] = page
    app[STREAMS] = set()
    app.on_shutdown.append(_end_streams)
    app.on_response_prepare.append(_no_server_banner)
    app.router.add_get("/", _page)
    app.router.add_get("/events", _events)
    app.router.add_get("/api/cps", _cps)
    app.router.add_get("/states.css", _states_css)
    app.router.add_get("/healthz", _healthz)
    app.router.add_static("/static/", STATIC, append_version=False)
    return app
