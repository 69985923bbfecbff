"""The interactive map widget shared by EV_Central and EV_Driver.

:class:`CityMapView` shows a :class:`~citymap.scene.CityScene`: wheel zoom around the
cursor (clamped), drag to pan, click/hover signals per CP, lazy tooltips and a legend overlay.
Live data goes in through :meth:`CityMapView.update_tile` (or ``set_tiles`` /
``update_tiles``); each call repaints only tiles whose look changed, and
``SmartViewportUpdate`` merges those small dirty rects, so 1,000 CPs updating every second
never repaint the whole map per message.

For big networks the view tells its scene its zoom before each paint
(:meth:`CityScene.set_view_zoom`): zoomed out, the scene shows per-cell summaries instead of
the tiles (:mod:`citymap.aggregate`); a click on a summary cell zooms in on it until the
tiles show, and its tooltip gives the counts. The zoom limit grows as the tiles shrink
with the network's density, so a single CP can always be read close up.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from PySide6.QtCore import QEvent, QPoint, QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QHelpEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QGraphicsView,
    QHBoxLayout,
    QLabel,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from citymap.city import City
from citymap.scene import CityScene
from citymap.tiles import CpTile, TileData, TileStyle

__all__ = ["CityMapView", "MapLegend"]

log = logging.getLogger(__name__)


class MapLegend(QFrame):
    """A small translucent box of colour swatches, floating over the map's corner.

    Built from ``TileStyle.legend_entries()`` so the driver's legend says
    "Available / Busy / Unavailable" while Central's follows SPEC's states.
    """

    def __init__(self, entries: list[tuple[QColor, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("MapLegend")
        self.setStyleSheet(
            "#MapLegend { background: rgba(255, 255, 255, 225); border: 1px solid #b8b0a3;"
            " border-radius: 4px; }"
            " QLabel { color: #212529; background: transparent; }"
        )
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(8, 6, 8, 6)
        self._layout.setSpacing(3)
        self.set_entries(entries)

    def set_entries(self, entries: list[tuple[QColor, str]]) -> None:
        while (child := self._layout.takeAt(0)) is not None:
            if (w := child.widget()) is not None:
                w.deleteLater()
        for colour, text in entries:
            row = QWidget(self)
            h = QHBoxLayout(row)
            h.setContentsMargins(0, 0, 0, 0)
            h.setSpacing(6)
            swatch = QLabel(row)
            swatch.setFixedSize(16, 11)
            swatch.setStyleSheet(
                f"background: {colour.name()}; border: 1px solid {colour.darker(150).name()};"
            )
            h.addWidget(swatch)
            h.addWidget(QLabel(text, row))
            h.addStretch(1)
            self._layout.addWidget(row)
        self.setVisible(bool(entries))
        self.adjustSize()


class CityMapView(QGraphicsView):
    """Zoomable, pannable city map with one tile per CP.

    Signals:
        tileClicked(str): a tile was clicked (press and release without dragging).
        tileHovered(str): the cursor entered a tile; ``""`` when it leaves all tiles.
        tileDoubleClicked(str): a tile was double-clicked (the control center opens its detail).
    """

    tileClicked = Signal(str)  # noqa: N815 (Qt naming)
    tileHovered = Signal(str)  # noqa: N815
    tileDoubleClicked = Signal(str)  # noqa: N815

    MAX_ZOOM = 12.0  # scene scale; beyond this tiles are bigger than a screen
    MIN_ZOOM_OF_FIT = 0.6  # may zoom out to 60 % of the "whole city" scale
    WHEEL_STEP = 1.0015  # per wheel angle unit: one notch (120) ~ x1.2

    def __init__(
        self,
        scene: CityScene | None = None,
        *,
        city: City | None = None,
        style: TileStyle | None = None,
        show_legend: bool = True,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        if scene is None:
            # Owned by the view (Qt parent), so it dies with it rather than at Python's GC.
            scene = CityScene(city, style, parent=self)
        elif style is not None:
            scene.set_style(style)
        self.setScene(scene)
        self._scene = scene
        # No global Antialiasing: tiles are pixel-aligned rectangles (the chips demo's rule);
        # the background and the district names turn it on for themselves.
        self.setRenderHints(
            QPainter.RenderHint.TextAntialiasing | QPainter.RenderHint.SmoothPixmapTransform
        )
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setCacheMode(QGraphicsView.CacheModeFlag.CacheBackground)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setDragMode(QGraphicsView.DragMode.NoDrag)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setMouseTracking(True)
        self.setMinimumSize(240, 180)

        self._auto_fit = True  # refit on resize until the user zooms
        self._press_pos: QPoint | None = None
        self._press_tile: str | None = None
        self._panning = False
        self._pan_last = QPoint()
        self._hovered = ""
        self._lod_zoom = 0.0  # the zoom last reported to the scene

        self._legend = MapLegend(scene.style.legend_entries(), self)
        self._legend.setVisible(show_legend and bool(scene.style.legend_entries()))
        self._show_legend = show_legend

    # -- data API (delegates to the scene) -------------------------------------------------
    @property
    def city_scene(self) -> CityScene:
        return self._scene

    @property
    def legend(self) -> MapLegend:
        return self._legend

    def set_tiles(self, batch: Iterable[TileData]) -> None:
        """Show exactly these CPs (add new, update known, remove missing)."""
        self._scene.set_tiles(batch)

    def update_tile(self, data: TileData) -> bool:
        """Add or update one CP; repaints it only if its look changed."""
        return self._scene.update_tile(data)

    def update_tiles(self, batch: Iterable[TileData]) -> int:
        """Apply a batch (e.g. what a QTimer flush collected); returns tiles repainted."""
        return self._scene.update_tiles(batch)

    def remove_tile(self, cp_id: str) -> bool:
        return self._scene.remove_tile(cp_id)

    def tile(self, cp_id: str) -> CpTile | None:
        return self._scene.tile(cp_id)

    def set_style(self, style: TileStyle) -> None:
        """Change the look strategy (e.g. the driver logs in and gets an own-CP colour)."""
        self._scene.set_style(style)
        self._legend.set_entries(style.legend_entries())
        self._legend.setVisible(self._show_legend and bool(style.legend_entries()))
        self._place_legend()

    # -- selection -------------------------------------------------------------------------
    def selected_ids(self) -> list[str]:
        return self._scene.selected_ids()

    def select_tile(self, cp_id: str | None, *, center: bool = False) -> None:
        """Select one CP (``None`` clears), e.g. to follow a table's selection."""
        self._scene.clearSelection()
        tile = self._scene.tile(cp_id) if cp_id else None
        if tile is not None:
            tile.setSelected(True)
            if center:
                self.centerOn(tile)

    # -- zoom ------------------------------------------------------------------------------
    def zoom(self) -> float:
        """Current scale: screen pixels per map unit (the tiles' level of detail)."""
        return self.transform().m11()

    def fit_city(self) -> None:
        """Show the whole city; the map keeps refitting on resize until the user zooms."""
        self.resetTransform()
        self.fitInView(self._scene.sceneRect(), Qt.AspectRatioMode.KeepAspectRatio)
        self._auto_fit = True
        self._sync_lod()

    def set_zoom(self, scale: float) -> None:
        """Set an absolute scale (clamped), keeping the view centre."""
        target = self._clamp(scale)
        centre = self.mapToScene(self.viewport().rect().center())
        self.resetTransform()
        self.scale(target, target)
        self.centerOn(centre)
        self._auto_fit = False
        self._sync_lod()

    def zoom_by(self, factor: float) -> None:
        """Multiply the scale by ``factor`` (clamped), around the mouse if it is over us."""
        current = self.zoom()
        target = self._clamp(current * factor)
        if target != current:
            self.scale(target / current, target / current)
        self._auto_fit = False
        self._sync_lod()

    def aggregated(self) -> bool:
        """True while the map shows per-cell summaries instead of tiles."""
        return self._scene.aggregated()

    def max_zoom(self) -> float:
        """``MAX_ZOOM`` for full-size tiles; more when the tiles are smaller (dense network)."""
        return self.MAX_ZOOM / self._scene.tile_scale()

    def _sync_lod(self) -> None:
        zoom = self.zoom()
        if zoom != self._lod_zoom or self._scene.aggregated() != self._scene.wants_aggregation(
            zoom
        ):
            self._lod_zoom = zoom
            self._scene.set_view_zoom(zoom)

    def _fit_scale(self) -> float:
        rect = self._scene.sceneRect()
        vp = self.viewport().rect()
        return min(vp.width() / rect.width(), vp.height() / rect.height())

    def _clamp(self, scale: float) -> float:
        return max(self._fit_scale() * self.MIN_ZOOM_OF_FIT, min(self.max_zoom(), scale))

    # -- events ----------------------------------------------------------------------------
    def tile_at(self, pos: QPoint) -> CpTile | None:
        """The topmost tile under a viewport position, ignoring the background."""
        for item in self.items(pos):
            if isinstance(item, CpTile):
                return item
        return None

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 (Qt override)
        delta = event.angleDelta().y()
        if delta:
            self.zoom_by(self.WHEEL_STEP**delta)
        event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            pos = event.position().toPoint()
            tile = self.tile_at(pos)
            self._press_pos = pos
            self._press_tile = tile.cp_id if tile else None
            if tile is None:
                self._panning = True
                self._pan_last = pos
                self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        pos = event.position().toPoint()
        if self._panning:
            delta = pos - self._pan_last
            self._pan_last = pos
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - delta.x())
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - delta.y())
            event.accept()
            return
        tile = self.tile_at(pos)
        hovered = tile.cp_id if tile else ""
        if hovered != self._hovered:
            self._hovered = hovered
            self.viewport().setCursor(
                Qt.CursorShape.PointingHandCursor if tile else Qt.CursorShape.ArrowCursor
            )
            self.tileHovered.emit(hovered)
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        super().mouseReleaseEvent(event)
        if event.button() != Qt.MouseButton.LeftButton or self._press_pos is None:
            return
        pos = event.position().toPoint()
        moved = (pos - self._press_pos).manhattanLength()
        if self._panning:
            self._panning = False
            self.viewport().setCursor(Qt.CursorShape.ArrowCursor)
            if moved < QApplication.startDragDistance() and self._scene.aggregated():
                self.zoom_into_cell(pos)
        elif self._press_tile is not None and moved < QApplication.startDragDistance():
            tile = self.tile_at(pos)
            if tile is not None and tile.cp_id == self._press_tile:
                self.tileClicked.emit(tile.cp_id)
        self._press_pos = None
        self._press_tile = None

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            tile = self.tile_at(event.position().toPoint())
            if tile is not None:
                self.tileDoubleClicked.emit(tile.cp_id)
                event.accept()
                return
        super().mouseDoubleClickEvent(event)

    def zoom_into_cell(self, pos: QPoint) -> None:
        """Zoom in on the summary cell under ``pos`` until its CPs show as tiles."""
        centre = self.mapToScene(pos)
        target = self._scene.AGGREGATE_LOD / self._scene.tile_scale() * 1.05
        self.resetTransform()
        self.scale(self._clamp(target), self._clamp(target))
        self.centerOn(centre)
        self._auto_fit = False
        self._sync_lod()

    def summary_tooltip(self, pos: QPoint) -> str:
        """The counts of the summary cell under ``pos`` (empty if none)."""
        scene_pos = self.mapToScene(pos)
        summary = self._scene.summary_layer
        level = summary.level_for(self.zoom())
        counts = self._scene.grid.counts_at(level, scene_pos.x(), scene_pos.y())
        if not counts:
            return ""
        names = {c.rgba(): text for c, text in self._scene.style.legend_entries()}
        total = sum(counts.values())
        order = [b for b in names if b in counts] + [b for b in counts if b not in names]
        rows = [f"<b>{total:,} charging point{'s' if total != 1 else ''}</b> here"]
        rows += [
            f'<span style="color:{summary.colour(b).name()}">■</span> {counts[b]:,} '
            f"{names.get(b, 'other')}"
            for b in order
        ]
        rows.append("<i>Click to zoom in</i>")
        return "<br>".join(rows)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        self._sync_lod()  # e.g. a transform set from outside (scale(), setTransform())
        super().paintEvent(event)

    def leaveEvent(self, event: QEvent) -> None:  # noqa: N802
        if self._hovered:
            self._hovered = ""
            self.tileHovered.emit("")
        super().leaveEvent(event)

    def viewportEvent(self, event: QEvent) -> bool:  # noqa: N802
        # Tooltips are built on demand from the current data: no per-update setToolTip().
        if event.type() == QEvent.Type.ToolTip:
            help_event = QHelpEvent(event)  # type: ignore[call-overload]
            tile = self.tile_at(help_event.pos())
            if tile is None:
                text = self.summary_tooltip(help_event.pos()) if self.aggregated() else ""
                if text:
                    QToolTip.showText(help_event.globalPos(), text, self.viewport())
                else:
                    QToolTip.hideText()
                return True
            rect = self.mapFromScene(tile.sceneBoundingRect()).boundingRect()
            QToolTip.showText(
                help_event.globalPos(),
                self._scene.style.tooltip(tile.tile_data),
                self.viewport(),
                rect,
            )
            return True
        return super().viewportEvent(event)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        if self._auto_fit:
            self.fit_city()
        self._place_legend()

    def showEvent(self, event: QEvent) -> None:  # noqa: N802
        super().showEvent(event)
        if self._auto_fit:
            self.fit_city()
        self._place_legend()

    def _place_legend(self) -> None:
        self._legend.adjustSize()
        margin = 10
        self._legend.move(margin, self.height() - self._legend.height() - margin)

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:  # noqa: N802
        """Nothing over the map for now; kept so subclasses can add overlays cheaply."""
        super().drawForeground(painter, rect)
