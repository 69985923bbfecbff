"""EV_Central's control center: the city map, the CP table, requests, messages, controls.

One :class:`~central_app.gui.cp_model.CpTableModel` feeds the table (through a sort/filter
proxy), the map (its ``cpsUpdated`` flush signal becomes ``update_tiles``) and the status
bar counts. Operator commands (Stop, Resume, Revoke) are posted to the core's
``CentralControls`` and return at once (:mod:`central_app.gui.commands`): each outcome, a
refusal or an exception becomes a line in the messages log and the status bar when it
arrives, never a traceback and never a wait on the GUI thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial

from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QFont, QFontMetrics, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDockWidget,
    QHeaderView,
    QLabel,
    QMainWindow,
    QMessageBox,
    QTableView,
    QToolBar,
    QWidget,
)

from central_app.gui import theme
from central_app.gui.bridge import CentralBridge
from central_app.gui.commands import Outcome, PostedCommands
from central_app.gui.cp_model import CpTableModel
from central_app.gui.cp_panel import CpPanel
from central_app.gui.enroll_dialog import EnrollDialog
from central_app.gui.history.launcher import HistoryLauncher
from central_app.gui.log_panel import LogPanel
from central_app.gui.map_feed import MapFeed, tile_for
from central_app.gui.network_questions import resume_all_question, stop_all_question
from central_app.gui.requests_model import RequestColumn, RequestsModel
from central_app.gui.status_bar import LinksIndicator, StateCounts
from central_app.standby_view import banner_of
from central_app.views import CentralControls, CpStatus, CpView, LinkStatus, LogLevel
from citymap import City, CityMapError, load_city
from citymap.view import CityMapView

__all__ = ["ControlCenterWindow", "tile_for"]

log = logging.getLogger(__name__)

ALL_CPS = "all charging points"


class ControlCenterWindow(QMainWindow):
    """The operator's window; ``controls`` is Central's core (or a fake in tests)."""

    def __init__(
        self,
        controls: CentralControls,
        *,
        city: City | None = None,
        city_path: str | None = None,
        subtitle: str = "",
        flush_interval_ms: int = 200,
        meter_interval_ms: int = 1000,
        max_batch: int = CentralBridge.MAX_BATCH,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.controls = controls
        # Qt appends the application display name ("EV_Central") to the title by itself.
        self.setWindowTitle("Control center" + (f" · {subtitle}" if subtitle else ""))
        self.setObjectName("controlCenter")
        self.setStyleSheet(theme.APP_STYLESHEET)
        self.setDockOptions(
            QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowNestedDocks
        )

        # The bridge paces the core's calls (one drain per ``flush_interval_ms``); the model
        # applies each drain at once (``CpTableModel.apply``), so its own timer stays idle.
        self.bridge = CentralBridge(self, interval_ms=flush_interval_ms, max_batch=max_batch)
        self.model = CpTableModel(self, flush_interval_ms=flush_interval_ms)
        self.requests = RequestsModel(self)
        self.log_panel = LogPanel(self)
        self.cp_panel = CpPanel(self.model, self)
        self.map = self._build_map(city, city_path)
        self.map_feed = (
            None
            if self.map is None
            else MapFeed(
                self.map,
                flush_interval_ms=flush_interval_ms,
                meter_interval_ms=meter_interval_ms,
                parent=self,
            )
        )
        self.links = LinksIndicator(self)
        self.state_counts = StateCounts(self)
        self._syncing = False
        self.read_only: str | None = None  # a standby's banner text: commands disabled
        self.banner = QLabel(self)
        self.banner.setObjectName("readOnlyBanner")
        self.banner.setStyleSheet(
            "background: #fff3cd; color: #664d03; font-weight: bold; padding: 2px 10px;"
            "border: 1px solid #e0c36a; border-radius: 3px;"
        )
        self.banner.hide()
        self.commands = PostedCommands(self)
        self.commands.finished.connect(self._on_outcome)
        self.history = HistoryLauncher.for_controls(
            self, controls, live_view=self.model.cp, on_error=self.log_panel.log
        )

        self._build_docks()
        self._build_actions()
        self._build_status_bar()
        self._wire()
        self._attach()
        self.resize(1400, 900)
        # Now that the CPs are known: the table's dock as wide as its columns need.
        self.resizeDocks(
            [self.cp_dock], [self.cp_panel.preferred_width()], Qt.Orientation.Horizontal
        )

    # --- construction -------------------------------------------------------------------------

    def _build_map(self, city: City | None, city_path: str | None) -> CityMapView | None:
        try:
            city = city or load_city(city_path)
        except CityMapError as exc:
            log.error("city map unavailable: %s", exc)
            placeholder = QLabel(f"The city map cannot be shown:\n{exc}", self)
            placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
            placeholder.setWordWrap(True)
            self.setCentralWidget(placeholder)
            self.log_panel.log(f"City map unavailable: {exc}", LogLevel.ERROR)
            return None
        view = CityMapView(city=city, parent=self)
        view.setObjectName("cityMap")
        self.setCentralWidget(view)
        return view

    def _build_docks(self) -> None:
        features = (
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
        )
        self.cp_dock = QDockWidget("Charging points", self)
        self.cp_dock.setObjectName("cpDock")
        self.cp_dock.setWidget(self.cp_panel)
        self.cp_dock.setFeatures(features)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.cp_dock)

        self.requests_view = QTableView(self)
        self.requests_view.setObjectName("requestsTable")
        self.requests_view.setModel(self.requests)
        self.requests_view.verticalHeader().setVisible(False)
        self.requests_view.verticalHeader().setDefaultSectionSize(22)
        self.requests_view.setShowGrid(False)
        self.requests_view.setAlternatingRowColors(True)
        self.requests_view.setWordWrap(False)
        self.requests_view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        header = self.requests_view.horizontalHeader()
        header.setHighlightSections(False)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        # The short columns as wide as their usual texts, so the Detail column (last, it
        # stretches) gets the rest: "ticket: 0.615 kWh, 0.28 EUR (unplugged)" was cut.
        fm = self.requests_view.fontMetrics()
        bold = QFontMetrics(QFont(self.requests_view.font().family(), -1, QFont.Weight.Bold))
        for column, width in (
            (RequestColumn.TIME, fm.horizontalAdvance("00:00:00") + 14),
            (RequestColumn.DRIVER, fm.horizontalAdvance("D-0000") + 14),
            (RequestColumn.CP, fm.horizontalAdvance("CP-000") + 14),
            (RequestColumn.PHASE, bold.horizontalAdvance("Interrupted") + 34),  # + the dot
            (RequestColumn.ORIGIN, fm.horizontalAdvance("Driver app") + 14),
        ):
            header.resizeSection(column, width)
        header.setSectionResizeMode(RequestColumn.DETAIL, QHeaderView.ResizeMode.Stretch)
        header.moveSection(RequestColumn.ORIGIN, RequestColumn.PHASE + 1)
        self.requests_dock = QDockWidget("Driver requests", self)
        self.requests_dock.setObjectName("requestsDock")
        self.requests_dock.setWidget(self.requests_view)
        self.requests_dock.setFeatures(features)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.requests_dock)

        self.log_dock = QDockWidget("Messages", self)
        self.log_dock.setObjectName("logDock")
        self.log_dock.setWidget(self.log_panel)
        self.log_dock.setFeatures(features)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.log_dock)
        self.splitDockWidget(self.requests_dock, self.log_dock, Qt.Orientation.Horizontal)

        # The bottom docks span the full width (the log needs it); the table sits beside the map.
        self.resizeDocks([self.cp_dock], [600], Qt.Orientation.Horizontal)
        self.resizeDocks([self.requests_dock, self.log_dock], [250, 250], Qt.Orientation.Vertical)
        self.resizeDocks([self.requests_dock, self.log_dock], [680, 720], Qt.Orientation.Horizontal)

    def _build_actions(self) -> None:
        self.stop_action = QAction(theme.status_icon(CpStatus.STOPPED, 14), "Stop", self)
        self.stop_action.setToolTip("Stop the selected charging points (Out of Order)")
        self.stop_action.setShortcut(QKeySequence("Ctrl+T"))
        self.stop_action.triggered.connect(self.stop_selected)
        self.resume_action = QAction(theme.status_icon(CpStatus.ACTIVE, 14), "Resume", self)
        self.resume_action.setToolTip("Put the selected charging points back in service")
        self.resume_action.setShortcut(QKeySequence("Ctrl+R"))
        self.resume_action.triggered.connect(self.resume_selected)
        self.revoke_action = QAction("Revoke key…", self)
        self.revoke_action.setToolTip(
            "Revoke the selected charging point's credential and key: its connection is "
            "closed and it is refused until you re-admit it with an enrollment token "
            "(asks for confirmation)"
        )
        self.revoke_action.triggered.connect(self.revoke_selected)
        self.enroll_action = QAction("Enroll a CP…", self)
        self.enroll_action.setToolTip(
            "Issue a one-time enrollment token: a new charging point, or a revoked one you "
            "re-admit, registers only with one"
        )
        self.enroll_action.triggered.connect(self.enroll)
        self.stop_all_action = QAction("Stop all…", self)
        self.stop_all_action.setToolTip("Stop every charging point (asks for confirmation)")
        self.stop_all_action.triggered.connect(self.stop_all)
        self.resume_all_action = QAction("Resume all…", self)
        self.resume_all_action.setToolTip("Resume every charging point (asks for confirmation)")
        self.resume_all_action.triggered.connect(self.resume_all)
        self.details_action = QAction("Details…", self)
        self.details_action.setToolTip(
            "The selected charging point's sessions, revenue, availability, faults and price "
            "(or double-click it on the map or in the table)"
        )
        self.details_action.setShortcut(QKeySequence("Ctrl+D"))
        self.details_action.triggered.connect(self.open_selected_detail)
        self.history_action = QAction("History…", self)
        self.history_action.setToolTip(
            "Every session with filters, totals and CSV export; per-CP report; charts"
        )
        self.history_action.setShortcut(QKeySequence("Ctrl+H"))
        self.history_action.triggered.connect(self.history.open_history)
        self.history_action.setEnabled(self.history.available)
        self.fit_action = QAction("Whole city", self)
        self.fit_action.setToolTip("Zoom the map out to the whole city")
        self.fit_action.triggered.connect(self._fit_map)
        self.fit_action.setEnabled(self.map is not None)

        toolbar = QToolBar("Operator", self)
        toolbar.setObjectName("operatorToolbar")
        toolbar.setMovable(False)
        toolbar.setIconSize(QSize(14, 14))
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        toolbar.addWidget(_toolbar_caption("Selection:"))
        toolbar.addAction(self.stop_action)
        toolbar.addAction(self.resume_action)
        toolbar.addAction(self.revoke_action)
        toolbar.addAction(self.details_action)
        toolbar.addSeparator()
        toolbar.addWidget(_toolbar_caption("Network:"))
        toolbar.addAction(self.stop_all_action)
        toolbar.addAction(self.resume_all_action)
        toolbar.addAction(self.enroll_action)
        toolbar.addSeparator()
        toolbar.addAction(self.history_action)
        toolbar.addSeparator()
        toolbar.addAction(self.fit_action)
        toolbar.addSeparator()
        self.banner_action = toolbar.addWidget(self.banner)
        self.banner_action.setVisible(False)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, toolbar)
        self.toolbar = toolbar
        self._update_actions()

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        bar.setSizeGripEnabled(False)
        bar.addPermanentWidget(self.state_counts)
        bar.addPermanentWidget(_separator())
        bar.addPermanentWidget(self.links)

    def _wire(self) -> None:
        self.bridge.cpsChanged.connect(self.model.apply)
        self.bridge.requestsChanged.connect(self.requests.update_requests)
        self.bridge.logBatch.connect(self.log_panel.add_batch)
        self.bridge.linksChanged.connect(self.links.set_links)
        self.bridge.linksChanged.connect(self._on_links)
        self.model.cpsUpdated.connect(self._on_cps_updated)
        self.model.countsChanged.connect(self.state_counts.set_counts)
        self.cp_panel.selectionChangedIds.connect(self._on_table_selection)
        self.cp_panel.table.doubleClicked.connect(self._center_on_current)
        self.cp_panel.table.doubleClicked.connect(self.open_selected_detail)
        self.model.cpsUpdated.connect(self.history.cps_changed)
        if self.map is not None:
            self.map.city_scene.selectionChanged.connect(self._on_map_selection)
            self.map.tileDoubleClicked.connect(self.history.open_cp)

    def _attach(self) -> None:
        """Listen first, then take the snapshot: nothing can fall between the two."""
        try:
            self.controls.add_listener(self.bridge)
            self.model.load(self.controls.snapshot())
            recent = getattr(self.controls, "recent_requests", None)
            for request in recent() if callable(recent) else []:
                self.requests.update_request(request)
            links = getattr(self.controls, "links", None)
            current = links() if callable(links) else None
            if isinstance(current, LinkStatus):
                self.links.set_links(current)
                self._on_links(current)
        except Exception as exc:  # the window must still open and say what went wrong
            log.exception("attaching the control center to Central failed")
            self._report_failure("Connecting the control center to Central", exc)

    def _on_links(self, links: LinkStatus) -> None:
        """A standby's window is a read-only view: a banner says whose, commands are off."""
        self.read_only = banner_of(links)
        self.banner.setText(self.read_only or "")
        self.banner_action.setVisible(self.read_only is not None)
        self._update_actions()

    # --- model -> map -------------------------------------------------------------------------

    def _on_cps_updated(self, cps: list[CpView]) -> None:
        """Tiles follow the model's flush (see :class:`MapFeed`: states at once, live meters
        at most every ``meter_interval_ms``, between two flushes)."""
        if self.map_feed is not None:
            self.map_feed.on_flush(cps)
        self._update_actions()

    # --- selection sync -----------------------------------------------------------------------

    def selected_ids(self) -> list[str]:
        return self.cp_panel.selected_ids()

    def _on_table_selection(self, ids: list[str]) -> None:
        self._update_actions()
        if self._syncing or self.map is None:
            return
        self._syncing = True
        try:  # only the tiles whose selection changes (not a walk over 10,000 tiles)
            wanted, current = set(ids), set(self.map.selected_ids())
            for cp_id, selected in [(i, False) for i in current - wanted] + [
                (i, True) for i in wanted - current
            ]:
                if (tile := self.map.tile(cp_id)) is not None:
                    tile.setSelected(selected)
        finally:
            self._syncing = False

    def _on_map_selection(self) -> None:
        if self._syncing or self.map is None:
            return
        self._syncing = True
        try:
            self.cp_panel.select_ids(self.map.selected_ids())
        finally:
            self._syncing = False
        self._update_actions()

    def _center_on_current(self, *_args) -> None:
        ids = self.selected_ids()
        if self.map is not None and ids and (tile := self.map.tile(ids[-1])) is not None:
            self.map.centerOn(tile)

    def _fit_map(self) -> None:
        if self.map is not None:
            self.map.fit_city()

    # --- actions ------------------------------------------------------------------------------

    def _update_actions(self) -> None:
        cps = [cp for cp in map(self.model.cp, self.selected_ids()) if cp is not None]
        self.stop_action.setEnabled(any(cp.admin_state != "STOPPED" for cp in cps))
        self.resume_action.setEnabled(
            any(cp.admin_state == "STOPPED" or cp.status is CpStatus.STOPPED for cp in cps)
        )
        self.revoke_action.setEnabled(len(cps) == 1)
        self.details_action.setEnabled(len(cps) == 1 and self.history.available)
        has_cps = self.model.rowCount() > 0
        self.stop_all_action.setEnabled(has_cps)
        self.resume_all_action.setEnabled(has_cps)
        if self.read_only is not None:  # only the active Central may change the network
            for action in self.command_actions:
                action.setEnabled(False)

    @property
    def command_actions(self) -> tuple[QAction, ...]:
        return (
            self.stop_action,
            self.resume_action,
            self.revoke_action,
            self.stop_all_action,
            self.resume_all_action,
            self.enroll_action,
        )

    def stop_selected(self) -> None:
        self._post("Stop", [(i, partial(self.controls.stop_cp, i)) for i in self.selected_ids()])

    def resume_selected(self) -> None:
        self._post(
            "Resume", [(i, partial(self.controls.resume_cp, i)) for i in self.selected_ids()]
        )

    def _post(self, what: str, calls: list[tuple[str, Callable[[], object]]]) -> None:
        """Stop/Resume are posted and return at once; ``_on_outcome`` says how they ended."""
        sent = self.commands.post(what, calls)
        if sent and self.commands.pending:
            self.statusBar().showMessage(f"{what} sent to {', '.join(sent)}…", 5000)

    def _on_outcome(self, outcome: Outcome) -> None:
        for target, reason in outcome.failed:
            self._report_failure(f"{outcome.what} {target}", reason)
        if outcome.applied:
            text = f"{outcome.what} applied to {', '.join(outcome.applied)}"
            self.log_panel.log(text, LogLevel.INFO)
            if not outcome.failed:
                self.statusBar().showMessage(text, 5000)

    def open_selected_detail(self, *_args) -> None:  # type: ignore[no-untyped-def]
        ids = self.selected_ids()
        if ids:
            self.history.open_cp(ids[-1])

    def revoke_selected(self) -> None:
        ids = self.selected_ids()
        if len(ids) != 1:
            return
        cp_id = ids[0]
        if self._confirm(
            f"Revoke the key of {cp_id}",
            f"Revoke the credential and key of {cp_id}?\n\nIts monitor is disconnected now and "
            "any running supply ends as for a lost monitor. The charging point stays out "
            "until you re-admit it (Enroll a CP…: a one-time token for its monitor), which "
            "issues a new credential and key.",
        ):
            self._post("Revoke", [(cp_id, partial(self.controls.revoke_cp, cp_id))])

    def enroll(self) -> None:
        ids = self.selected_ids()
        dialog = EnrollDialog(self.controls.enroll_cp, ids[0] if len(ids) == 1 else "", self)
        dialog.exec()

    def stop_all(self) -> None:
        if self._confirm("Stop all charging points", stop_all_question(self.model.cps())):
            self._post("Stop", [(ALL_CPS, self.controls.stop_all)])

    def resume_all(self) -> None:
        if self._confirm("Resume all charging points", resume_all_question(self.model.cps())):
            self._post("Resume", [(ALL_CPS, self.controls.resume_all)])

    def _confirm(self, title: str, text: str) -> bool:
        answer = QMessageBox.question(
            self,
            title,
            text,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        return answer == QMessageBox.StandardButton.Yes

    def _report_failure(self, what: str, exc: BaseException | str) -> None:
        reason = exc if isinstance(exc, str) else str(exc) or type(exc).__name__
        self.log_panel.log(f"{what} failed: {reason}", LogLevel.ERROR)
        self.statusBar().showMessage(f"{what} failed: {reason}", 10000)

    def report_unexpected(self, exc: BaseException) -> None:
        """For the application's excepthook: say it in the log instead of a traceback."""
        self._report_failure("Control center", exc)

    # --- lifecycle ----------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt override)
        remove = getattr(self.controls, "remove_listener", None)
        if callable(remove):
            try:
                remove(self.bridge)
            except Exception:
                log.debug("remove_listener failed", exc_info=True)
        self.history.close()
        super().closeEvent(event)

    def showEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().showEvent(event)
        if self.map is not None:
            # With the map as context: dropped if the window is gone before it fires.
            QTimer.singleShot(0, self.map, self.map.fit_city)


def _toolbar_caption(text: str) -> QLabel:
    label = QLabel(text)
    label.setStyleSheet("color: #5f6b7a; padding: 0 2px 0 6px;")
    return label


def _separator() -> QLabel:
    sep = QLabel("|")
    sep.setStyleSheet("color: #c0c6ce;")
    return sep
