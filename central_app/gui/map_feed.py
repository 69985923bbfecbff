"""Keeps the control center's map in step with the CP model's flushes.

A state change repaints its tile with the flush that brought it. Live meters (kW, kWh, €)
change on every supplying CP every second, and with 1,000 CPs a repaint of the whole map
costs tens of milliseconds, so they are collected and applied at most once per
``meter_interval_ms``:

- starting at a moment chosen between two model flushes, so that the table's repaint after
  a flush and the map's repaints fall in different passes of the event loop;
- in chunks of :attr:`MapFeed.CHUNK` tiles a few milliseconds apart. A few dozen changed
  tiles repaint as a few dozen small regions; hundreds at once make the view repaint all of
  its viewport (``SmartViewportUpdate`` gives up on regions of more than 50 rectangles), a
  pause the operator sees.

While the map shows per-cell summaries (a big network zoomed out, see
:mod:`citymap.aggregate`) the tiles are not painted at all: every change goes to them at
once (data only: a hidden tile builds its look when it is next painted, see
:meth:`~citymap.tiles.CpTile.set_data`) and the summary repaints the cells whose counts
changed. A restart storm thus costs a summary count per CP, not a tile style.
"""

from __future__ import annotations

import time
from itertools import islice

from PySide6.QtCore import QObject, QTimer

from central_app.views import CpStatus, CpView
from citymap.tiles import TileData
from citymap.view import CityMapView

__all__ = ["MapFeed", "tile_for"]


def tile_for(cp: CpView) -> TileData | None:
    """The map tile of a CP (None if the CP has no position on the map)."""
    if cp.x is None or cp.y is None:
        return None
    supplying = cp.status is CpStatus.SUPPLYING
    extra = ""
    if cp.status is CpStatus.ACTIVE and cp.driver_id:
        extra = f"authorized for {cp.driver_id}, plug in"
    elif cp.status is CpStatus.BROKEN and cp.engine:
        extra = f"engine {cp.engine}"
    elif cp.status is CpStatus.DISCONNECTED:
        extra = "no heartbeat from the monitor"
    return TileData(
        cp.cp_id,
        cp.x,
        cp.y,
        str(cp.status),  # the value (StrEnum), without Enum's Python-level .value
        cp.location,
        cp.price,
        kw=cp.kw if supplying else None,
        kwh=cp.kwh if supplying else None,
        eur=cp.eur if supplying else None,
        driver_id=cp.driver_id if supplying else None,
        label_extra=extra,
    )


class MapFeed(QObject):
    """Applies each flush's CPs to ``view``: states at once, meters batched (see module)."""

    CHUNK = 40  # tiles per repaint while the meters are applied
    CHUNK_GAP_MS = 20  # between two chunks: time for the previous one to be painted

    def __init__(
        self,
        view: CityMapView,
        *,
        flush_interval_ms: int,
        meter_interval_ms: int,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._view = view
        self._pending: dict[str, TileData] = {}  # meters waiting for the next round
        self._draining: dict[str, TileData] = {}  # this round's meters not yet applied
        self._meter_interval = meter_interval_ms / 1000
        # Half a flush interval after a flush is as far as one can get from the next one:
        # the model's timer starts on the first change after a flush.
        self._offset_ms = max(1, flush_interval_ms // 2)
        self._flush_ms = flush_interval_ms
        self._due = 0.0  # time.monotonic() from which the meters may repaint again
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.flush_meters)
        self._chunk_timer = QTimer(self)
        self._chunk_timer.setSingleShot(True)
        self._chunk_timer.setInterval(self.CHUNK_GAP_MS)
        self._chunk_timer.timeout.connect(self._apply_chunk)

    def on_flush(self, cps: list[CpView]) -> None:
        """Slot for the model's ``cpsUpdated``."""
        view, pending, draining = self._view, self._pending, self._draining
        if view.aggregated():
            batch = [t for t in map(tile_for, cps) if t is not None]
            if pending or draining:  # meters held back before the map zoomed out
                done = {t.cp_id for t in batch}
                batch[:0] = [t for d in (draining, pending) for k, t in d.items() if k not in done]
                pending.clear()
                draining.clear()
                self._timer.stop()
                self._chunk_timer.stop()
            view.update_tiles(batch)
            return
        urgent: list[TileData] = []
        for cp in cps:
            tile = tile_for(cp)
            if tile is None:
                continue
            cp_id = cp.cp_id
            current = view.tile(cp_id)
            if current is None or current.tile_data.status != tile.status:
                urgent.append(tile)
                pending.pop(cp_id, None)
                draining.pop(cp_id, None)
            elif current.tile_data == tile:
                pending.pop(cp_id, None)  # e.g. a heartbeat: nothing on the tile changed
                draining.pop(cp_id, None)
            elif cp_id in draining:
                draining[cp_id] = tile  # its chunk is still to come: it takes the newest
            else:
                pending[cp_id] = tile
        if urgent:
            view.update_tiles(urgent)
        if pending:
            self._schedule()

    def _schedule(self) -> None:
        """Re-aimed at every flush: once the meters are (nearly) due, half a flush interval
        from now; until then, a fallback a flush interval after they are due, in case no
        further flush comes (a flush that does come re-aims it)."""
        wait_ms = round((self._due - time.monotonic()) * 1000)
        if wait_ms <= self._offset_ms:
            self._timer.start(self._offset_ms)
        else:
            self._timer.start(wait_ms + self._flush_ms)

    def flush_meters(self) -> None:
        """Start a round: the meters collected so far go to the map, chunk by chunk."""
        self._due = time.monotonic() + self._meter_interval
        self._draining.update(self._pending)
        self._pending = {}
        self._apply_chunk()

    def _apply_chunk(self) -> None:
        draining = self._draining
        chunk = [draining.pop(cp_id) for cp_id in list(islice(draining, self.CHUNK))]
        if chunk:
            self._view.update_tiles(chunk)
        if draining:
            self._chunk_timer.start()
