"""The driver's main window: map and list of CPs, current charge, services run, history
(tickets and monthly spending with CSV export).

Data flow: the runtime thread → ``QtBridge`` signals (queued) → this window. Network updates
are batched: they collect in ``_pending`` and a 250 ms ``QTimer`` flushes them into the table
model (``dataChanged`` per changed row) and the map (``update_tiles``, which repaints only
tiles whose look changed). Commands go back through ``runtime.request`` etc., which queue
them for the runtime thread; the GUI thread never blocks on Kafka.

Click on a green CP (map or list) → a confirmation ("Charge at CP-03, Harbour, 0.35 €/kWh?")
→ request. The confirmation avoids an accidental charge from a stray click; it can be turned
off (``confirm_requests = False``), e.g. for kiosk use.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSortFilterProxyModel, Qt, QTimer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from citymap import AvailabilityStyle, CityMapView, CpStatus, TileData
from driver_app.central_watch import CentralStatus
from driver_app.gui.bridge import QtBridge
from driver_app.gui.models import CP_ID_ROLE, SORT_ROLE, CpTableModel, TicketTableModel
from driver_app.gui.panels import CentralIndicator, ChargePanel, RunPanel
from driver_app.gui.spending import SpendingPanel
from driver_app.network import CpInfo
from driver_app.services import RunView, ServicesFileError, load_services
from driver_app.session import Phase, SessionView, Step, TicketInfo

STYLE = """
QMainWindow, QWidget#page { background: #f1f3f5; }
QFrame#card { background: white; border: 1px solid #dee2e6; border-radius: 8px; }
QLabel#cardTitle { font-size: 11pt; font-weight: 700; color: #343a40; }
QLabel#appTitle { font-size: 15pt; font-weight: 700; color: #212529; }
QLabel#headline { font-size: 13pt; font-weight: 700; }
QLabel#muted { color: #6c757d; }
QLabel#metricValue { font-size: 17pt; font-weight: 700; color: #212529; }
QLabel#metricCaption { color: #868e96; font-size: 8pt; }
QLabel#ticket { background: #ebfbee; border: 1px solid #b2f2bb; border-radius: 6px; padding: 8px; }
QListWidget { border: none; background: #f8f9fa; }
QTableView { background: white; border: none; gridline-color: #f1f3f5; }
QHeaderView::section { background: #f8f9fa; border: none; padding: 4px; font-weight: 600; }
QPushButton { padding: 5px 12px; }
QProgressBar { border: 1px solid #dee2e6; border-radius: 5px; text-align: center; height: 18px; }
QProgressBar::chunk { background: #74c0fc; border-radius: 4px; }
"""


def _proxy(model, parent) -> QSortFilterProxyModel:
    proxy = QSortFilterProxyModel(parent)
    proxy.setSourceModel(model)
    proxy.setSortRole(SORT_ROLE)
    proxy.setDynamicSortFilter(True)
    return proxy


class DriverWindow(QMainWindow):
    FLUSH_MS = 250

    def __init__(
        self,
        driver_id: str,
        bridge: QtBridge,
        runtime=None,
        tickets: list[TicketInfo] | None = None,
    ) -> None:
        super().__init__()
        self.driver_id = driver_id
        self.runtime = runtime  # DriverRuntime, or None (screenshots, view tests)
        self.confirm_requests = True
        self.session: SessionView | None = None
        self._asking: str | None = None  # the CP of "Asking Central…" in the status bar
        self._pending: dict[str, CpInfo] = {}
        self.setWindowTitle(f"EV Driver — {driver_id}")
        self.resize(1360, 820)
        self.setStyleSheet(STYLE)

        # --- top bar ---
        title = QLabel(f"EV Charging · Nova Ribera — driver {driver_id}")
        title.setObjectName("appTitle")
        self.central_indicator = CentralIndicator()
        top = QHBoxLayout()
        top.addWidget(title)
        top.addStretch(1)
        top.addWidget(self.central_indicator)

        # --- left: map and list ---
        self.map = CityMapView(style=AvailabilityStyle(driver_id))
        self.cp_model = CpTableModel(self)
        self.cp_proxy = _proxy(self.cp_model, self)
        self.cp_table = QTableView()
        self.cp_table.setModel(self.cp_proxy)
        self.cp_table.setSortingEnabled(True)
        self.cp_table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.cp_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.cp_table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.cp_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.cp_table.verticalHeader().hide()
        self.cp_table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.charge_button = QPushButton("Charge at the selected point")
        list_page = QWidget()
        list_layout = QVBoxLayout(list_page)
        list_layout.addWidget(self.cp_table)
        list_layout.addWidget(self.charge_button, 0, Qt.AlignmentFlag.AlignRight)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.map, "Map")
        self.tabs.addTab(list_page, "List")
        hint = QLabel("Click a green charging point to charge there. Prices in €/kWh.")
        hint.setObjectName("muted")
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.tabs, 1)
        left_layout.addWidget(hint)

        # --- right: charge, run, history ---
        self.charge = ChargePanel()
        self.run_panel = RunPanel()
        self.ticket_model = TicketTableModel(tickets, self)
        self.ticket_proxy = _proxy(self.ticket_model, self)
        self.history = QTableView()
        self.history.setModel(self.ticket_proxy)
        self.history.setSortingEnabled(True)
        self.history.sortByColumn(0, Qt.SortOrder.DescendingOrder)
        self.history.verticalHeader().hide()
        self.history.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.history.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.history.setWordWrap(False)
        header = self.history.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(5, QHeaderView.ResizeMode.Stretch)
        history_card = QWidget()
        history_card.setObjectName("card")
        history_layout = QVBoxLayout(history_card)
        self.history_title = QLabel()
        self.history_title.setObjectName("cardTitle")
        history_layout.addWidget(self.history_title)
        self.spending = SpendingPanel()
        self.spending.set_tickets(self.ticket_model.tickets())
        self.history_tabs = QTabWidget()
        self.history_tabs.addTab(self.history, "Tickets")
        self.history_tabs.addTab(self.spending, "Monthly spending")
        history_layout.addWidget(self.history_tabs)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.charge)
        right.addWidget(self.run_panel)
        right.addWidget(history_card)
        right.setSizes([320, 170, 330])

        body = QSplitter(Qt.Orientation.Horizontal)
        body.addWidget(left)
        body.addWidget(right)
        body.setStretchFactor(0, 3)
        body.setStretchFactor(1, 2)
        body.setSizes([780, 560])

        page = QWidget()
        page.setObjectName("page")
        layout = QVBoxLayout(page)
        layout.addLayout(top)
        layout.addWidget(body, 1)
        self.setCentralWidget(page)
        self._update_history_title()

        # --- wiring ---
        bridge.networkChanged.connect(self.on_network)
        bridge.centralChanged.connect(self.on_central)
        bridge.sessionStep.connect(self.on_step)
        bridge.sessionProgress.connect(self.on_progress)
        bridge.ticketStored.connect(self.on_ticket)
        bridge.ticketAmended.connect(self.on_ticket_amended)
        bridge.runChanged.connect(self.on_run)
        bridge.reported.connect(self.on_report)
        self.map.tileClicked.connect(self.ask_charge)
        self.cp_table.doubleClicked.connect(self._table_charge)
        self.charge_button.clicked.connect(self._selected_charge)
        self.cp_table.selectionModel().currentRowChanged.connect(self._follow_selection)
        self.run_panel.openRequested.connect(self.choose_file)
        self.run_panel.stopRequested.connect(self.stop_after_current)

        self._flush_timer = QTimer(self)
        self._flush_timer.setInterval(self.FLUSH_MS)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.timeout.connect(self.flush)
        self._clock = QTimer(self)
        self._clock.setInterval(1000)
        self._clock.timeout.connect(self.charge.tick)
        self._clock.start()

    # --- incoming (GUI thread) ---------------------------------------------------------------

    def on_network(self, cps: list[CpInfo]) -> None:
        for info in cps:
            self._pending[info.cp_id] = info
        if not self._flush_timer.isActive():
            self._flush_timer.start()

    def flush(self) -> None:
        """Apply the batched network changes to the list and the map."""
        if not self._pending:
            return
        batch = list(self._pending.values())
        self._pending.clear()
        self.cp_model.apply(batch)
        # A CP without a position is listed but cannot be drawn on the map.
        self.map.update_tiles(
            self._tile(cp) for cp in batch if cp.x is not None and cp.y is not None
        )

    def on_central(self, status: CentralStatus) -> None:
        self.central_indicator.set_status(status)

    def on_step(self, view: SessionView, step: Step) -> None:
        previous = self.session
        self.session = view
        self.charge.show_step(view, step)
        self._retile(previous, view)
        if self._asking == view.cp_id and step.phase is not Phase.REQUESTED:
            # Central answered: "Asking Central…" would now be wrong (it stayed after a denial)
            self._asking = None
            self.statusBar().showMessage(f"{view.cp_id}: {step.text}", 8000)

    def on_progress(self, view: SessionView) -> None:
        self.session = view
        self.charge.show_progress(view)
        self._retile(None, view)

    def on_ticket(self, ticket: TicketInfo, current: bool) -> None:
        self.ticket_model.add(ticket)
        self.spending.set_tickets(self.ticket_model.tickets())
        self._update_history_title()
        if not current:
            self.statusBar().showMessage(
                f"Ticket received for an earlier charge at {ticket.cp_id}: "
                f"{ticket.kwh:.3f} kWh, {ticket.eur:.2f} €",
                15000,
            )

    def on_ticket_amended(self, ticket: TicketInfo, was: TicketInfo | None) -> None:
        self.ticket_model.put(ticket)
        self.spending.set_tickets(self.ticket_model.tickets())
        text = ticket.amended_summary(was)
        self.statusBar().showMessage(text, 30000)
        self.run_panel.add_message(text)

    def on_run(self, view: RunView) -> None:
        self.run_panel.show_run(view)

    def on_report(self, text: str) -> None:
        self.statusBar().showMessage(text, 10000)
        self.run_panel.add_message(text)

    # --- commands ----------------------------------------------------------------------------

    def ask_charge(self, cp_id: str) -> bool:
        """A click on a CP: if it is available, confirm and request. Returns True if sent.

        Checked again once the confirmation is answered: the CP may have turned busy, or a
        charge may have started, while the dialog was open."""
        self.map.select_tile(cp_id)
        info = self._why_not(cp_id)
        if info is None or (self.confirm_requests and not self._confirm(info)):
            return False
        self.flush()  # what changed while the dialog was open
        if self.confirm_requests and self._why_not(cp_id) is None:
            return False
        if self.runtime is not None:
            self.runtime.request(cp_id)
        self._asking = cp_id
        self.statusBar().showMessage(f"Asking Central for a charge at {cp_id}…", 10000)
        return True

    def _why_not(self, cp_id: str) -> CpInfo | None:
        """The CP's info if a charge may be asked there now; else None, said in the bar."""
        info = self.cp_model.get(cp_id)
        if info is None:
            return None
        if not info.available:
            why = f"{cp_id} is {info.availability.label.lower()} — choose a green charging point"
        elif self.session is not None and not self.session.ended:
            why = f"You already have a charge in progress at {self.session.cp_id}"
        elif (run := self.run_panel.view) is not None and not run.finished:
            why = f"{run.name} is running — press Stop after current first"
        else:
            return info
        self.statusBar().showMessage(why, 6000)
        return None

    def _confirm(self, info: CpInfo) -> bool:
        answer = QMessageBox.question(
            self,
            "Start a charge",
            f"Charge at {info.cp_id} ({info.location})?\nPrice: {info.price:.2f} €/kWh",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.Yes,
        )
        return answer == QMessageBox.StandardButton.Yes

    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Run a services file", str(Path.cwd()), "Services (*.txt);;All files (*)"
        )
        if path:
            self.run_file(Path(path))

    def run_file(self, path: Path) -> None:
        try:
            entries = load_services(path)
        except ServicesFileError as exc:
            QMessageBox.warning(self, "Services file", str(exc))
            return
        self.run_panel.messages.clear()
        self.run_panel.messages_follow.to_end()
        self.run_panel.messages.setProperty("results", 0)
        if self.runtime is not None:
            self.runtime.run_file(str(path), entries)

    def stop_after_current(self) -> None:
        self.run_panel.stop_button.setEnabled(False)
        if self.runtime is not None:
            self.runtime.stop_after_current()

    # --- helpers -----------------------------------------------------------------------------

    def _tile(self, cp: CpInfo) -> TileData:
        view = self.session
        mine = view is not None and view.cp_id == cp.cp_id and not view.ended
        if mine and view.phase == Phase.SUPPLYING:
            return TileData(
                cp.cp_id,
                cp.x or 0.0,
                cp.y or 0.0,
                CpStatus.SUPPLYING,
                cp.location,
                cp.price,
                kw=view.kw,
                kwh=view.kwh,
                eur=view.eur,
                driver_id=self.driver_id,
            )
        extra = "authorized — plug in here" if mine and view.phase == Phase.AUTHORIZED else ""
        return TileData(
            cp.cp_id, cp.x or 0.0, cp.y or 0.0, cp.status, cp.location, cp.price, label_extra=extra
        )

    def _retile(self, previous: SessionView | None, view: SessionView) -> None:
        ids = {view.cp_id} | ({previous.cp_id} if previous is not None else set())
        tiles = [
            self._tile(cp)
            for cp_id in ids
            if (cp := self.cp_model.get(cp_id)) is not None
            and cp.x is not None
            and cp.y is not None
        ]
        self.map.update_tiles(tiles)

    def _table_charge(self, index) -> None:
        self.ask_charge(index.data(CP_ID_ROLE))

    def _selected_charge(self) -> None:
        index = self.cp_table.currentIndex()
        if index.isValid():
            self.ask_charge(index.data(CP_ID_ROLE))

    def _follow_selection(self, current, _previous) -> None:
        if current.isValid():
            self.map.select_tile(current.data(CP_ID_ROLE), center=False)

    def _update_history_title(self) -> None:
        tickets = self.ticket_model.tickets()
        kwh = sum(t.kwh for t in tickets)
        eur = sum(t.eur for t in tickets)
        self.history_title.setText(
            f"My tickets ({len(tickets)}) — {kwh:.1f} kWh, {eur:.2f} € in all"
        )
