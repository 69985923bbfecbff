"""EV_Web: the network's public status page (docs/web.md).

An aiohttp server that reads the compacted ``evc.network.state`` as the read-only ``web``
Kafka role and serves the city map with every charging point's availability and price,
updated live by server-sent events. No driver data reaches it or leaves it.

- ``board``: what the page shows of a CP (the public whitelist) and the SSE format; no I/O.
- ``citysvg``: the city map as SVG; no I/O.
- ``hub``: the board and one queue per connected browser, on the event loop.
- ``feed``: the Kafka thread that feeds the hub.
- ``server``: the aiohttp application; ``main``: the command line.
"""

from web_app.board import Board, FeedStatus, public_cp, sse_event
from web_app.hub import Hub
from web_app.server import build_app

__all__ = ["Board", "FeedStatus", "Hub", "build_app", "public_cp", "sse_event"]
