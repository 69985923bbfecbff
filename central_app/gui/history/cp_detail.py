"""One CP's history: sessions, energy and revenue per day, availability, faults, price.

Opened by a double-click on the CP (map, table, the Per CP report, a session row). The
answer to "what did CP-03 earn last week and how often was it broken" is its first line.
The price change goes through Central's command path (``set_price`` on the controls: the
owner applies it at once, the row and its audit entry follow), like Stop and Resume.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDoubleSpinBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from central_app.gui.commands import Outcome, PostedCommands
from central_app.gui.history.availability_bar import AvailabilityBar, describe, from_first_record
from central_app.gui.history.charts import DailyRevenueChart
from central_app.gui.history.period import WEEK, PeriodPicker
from central_app.gui.history.reader import LOADING, HistoryReader
from central_app.gui.history.sessions_model import SessionsModel, short_ts
from central_app.gui.history.sessions_panel import (
    ERROR_STYLE,
    describe_totals,
    failure_text,
    sessions_table,
)
from central_app.history import NO_RECORD, DayTotal, Fault, History, SessionFilter, Totals
from central_app.views import CpView
from wire.display import count
from wire.timefmt import format_elapsed, parse_ts, utc_now

log = logging.getLogger(__name__)

SUMMARY_STYLE = "font-size: 10.5pt; font-weight: 600; padding: 4px 0;"
Detail = tuple[Totals, list[DayTotal], list[Fault], dict[str, float]]


def detail_of(history: History, f: SessionFilter) -> Detail:
    """The detail's queries for one CP and period, run together on the reader's thread."""
    assert f.cp_id is not None and f.since is not None and f.until is not None
    return (
        history.totals(f),
        history.per_day(f.cp_id, f.since, f.until),
        history.faults(f.cp_id, f.since, f.until),
        history.availability(f.cp_id, f.since, f.until),
    )


def _table(headers: list[str], parent: QWidget) -> tuple[QTableView, QStandardItemModel]:
    model = QStandardItemModel(0, len(headers), parent)
    model.setHorizontalHeaderLabels(headers)
    view = QTableView(parent)
    view.setModel(model)
    view.verticalHeader().setVisible(False)
    view.verticalHeader().setDefaultSectionSize(22)
    view.setAlternatingRowColors(True)
    view.setShowGrid(False)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
    return view, model


def _cells(*texts: str) -> list[QStandardItem]:
    items = []
    for i, text in enumerate(texts):
        item = QStandardItem(text)
        if i:
            item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        items.append(item)
    return items


class CpDetailDialog(QDialog):
    def __init__(
        self,
        history: History | HistoryReader,
        cp_id: str,
        *,
        view: CpView | None = None,
        set_price: Callable[[str, float], object] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        reader = HistoryReader.of(history, self)
        assert reader is not None
        self.reader = reader
        self.history = reader.history
        self.cp_id = cp_id
        self._set_price = set_price
        self.setWindowTitle(f"{cp_id} — history")
        self.setObjectName("cpDetail")
        self.resize(860, 640)

        self.title = QLabel(self)
        self.title.setStyleSheet("font-size: 13pt; font-weight: 700;")
        self.price = QDoubleSpinBox(self)
        self.price.setRange(0.01, 99.99)
        self.price.setDecimals(2)
        self.price.setSingleStep(0.01)
        self.price.setSuffix(" €/kWh")
        self.price_button = QPushButton("Change price", self)
        self.price_button.setToolTip("Applies to new supplies at once; recorded in the audit log")
        self.price_button.setEnabled(set_price is not None)
        self.price_note = QLabel(self)
        self.price_note.setStyleSheet("color: #5f6b7a;")
        self._asked_price = 0.0
        self._commands = PostedCommands(self)
        self._commands.finished.connect(self._price_outcome)
        self.period = PeriodPicker(allow_all=False, initial=WEEK, parent=self)
        self.summary = QLabel(self)
        self.summary.setObjectName("cpSummary")
        self.summary.setWordWrap(True)
        self.summary.setStyleSheet(SUMMARY_STYLE)
        self.availability = AvailabilityBar(self)
        self.availability_text = QLabel(self)
        self.availability_text.setStyleSheet("color: #3d4752;")

        self.daily_chart = DailyRevenueChart(self)
        self.days_view, self.days = _table(["Day (UTC)", "Sessions", "kWh", "€"], self)
        per_day = QWidget(self)
        per_day_layout = QHBoxLayout(per_day)
        per_day_layout.addWidget(self.daily_chart, 3)
        per_day_layout.addWidget(self.days_view, 2)
        self.faults_view, self.faults = _table(["Broken at (UTC)", "Reason", "For"], self)
        self.sessions = SessionsModel(reader, self)
        self.sessions_view = sessions_table(self.sessions, self)
        self.tabs = QTabWidget(self)
        self.tabs.addTab(per_day, "Per day")
        self.tabs.addTab(self.faults_view, "Faults")
        self.tabs.addTab(self.sessions_view, "Sessions")

        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.price)
        top.addWidget(self.price_button)
        period_row = QHBoxLayout()
        period_row.addWidget(QLabel("Period", self))
        period_row.addWidget(self.period)
        period_row.addStretch(1)
        period_row.addWidget(self.price_note)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(period_row)
        layout.addWidget(self.summary)
        layout.addWidget(QLabel("Availability (share of the period in each state):", self))
        layout.addWidget(self.availability)
        layout.addWidget(self.availability_text)
        layout.addWidget(self.tabs, 1)

        self.period.changed.connect(self.reload)
        self.price_button.clicked.connect(self.change_price)
        self.show_view(view)
        self.reload()

    # --- live part ----------------------------------------------------------------------

    def show_view(self, view: CpView | None) -> None:
        """The CP as Central sees it now (None: not known to this Central: the price is then
        read from the database, off the GUI thread)."""
        where = f" · {view.location}" if view is not None and view.location else ""
        state = f" · {view.status.value}" if view is not None else ""
        self.title.setText(f"{self.cp_id}{where}{state}")
        if view is not None:
            self._show_price(view.price)
            return
        cp_id = self.cp_id
        self.reader.ask(self, "price", lambda h: h.price(cp_id), self._show_price, log.info)

    def _show_price(self, price: float | None) -> None:
        if price is not None and not self.price.hasFocus():
            self.price.setValue(price)

    def change_price(self) -> bool:
        """Post the new price (Central's owner applies it, like Stop); the note says the
        outcome when it arrives. False when refused at once (a bad price, a standby)."""
        if self._set_price is None:
            return False
        price = round(self.price.value(), 2)
        set_price = self._set_price
        self._asked_price = price
        self.price_note.setText(f"Setting the price to {price:.2f} €/kWh…")
        sent = self._commands.post("Price", [(self.cp_id, lambda: set_price(self.cp_id, price))])
        return bool(sent)

    def _price_outcome(self, outcome: Outcome) -> None:
        if outcome.failed:
            log.warning("price change of %s failed: %s", self.cp_id, outcome.failed[0][1])
            self.price_note.setText(f"Price not changed: {outcome.failed[0][1]}")
        else:
            self.price_note.setText(f"Price set to {self._asked_price:.2f} €/kWh (audited)")

    # --- history ------------------------------------------------------------------------

    def reload(self) -> None:
        """Ask for the period's summary, days, faults and availability in one query job (off
        the GUI thread), and the sessions through their model; "loading…" meanwhile."""
        since, until = self.period.closed_bounds()
        f = SessionFilter(cp_id=self.cp_id, since=since, until=until)
        described = self.period.describe()
        self.summary.setStyleSheet(SUMMARY_STYLE + "color: #5f6b7a;")
        self.summary.setText(LOADING)
        self.sessions.set_filter(f)
        self.reader.ask(
            self,
            "detail",
            lambda h: detail_of(h, f),
            lambda d: self._show(d, described, since, until),
            self._show_error,
        )

    def _show(self, detail: Detail, described: str, since: str, until: str) -> None:
        totals, days, faults, shares = detail
        down = sum(f.duration_s or 0.0 for f in faults)
        self.summary.setStyleSheet(SUMMARY_STYLE)
        self.summary.setText(
            f"{described}: {describe_totals(totals)} · "
            f"broken {count(len(faults), 'time')}"
            + (f" ({format_elapsed(down)} in all)" if faults else "")
        )
        self.show_availability(shares, since, until)
        self._fill_days(days)
        self._fill_faults(faults)

    def _show_error(self, text: str) -> None:
        self.summary.setStyleSheet(SUMMARY_STYLE + ERROR_STYLE)
        self.summary.setText(failure_text(text))

    def show_availability(self, shares: dict[str, float], since: str, until: str) -> None:
        """The bar from the first record on; before it there is no data, not a state."""
        known, before = from_first_record(shares)
        if not known:
            self.availability.set_shares({NO_RECORD: 1.0})
            self.availability_text.setText(
                f"No data: no state of {self.cp_id} recorded in this period"
            )
            return
        self.availability.set_shares(known)
        text = describe(known)
        if before > 0:
            start, end = parse_ts(since), min(parse_ts(until), utc_now())
            first = start + (end - start) * before
            text += f" — since {first:%Y-%m-%d %H:%M} UTC, the first record in this period"
        self.availability_text.setText(text)

    def _fill_days(self, days: list[DayTotal]) -> None:
        self.daily_chart.show_days(days)
        self.days.removeRows(0, self.days.rowCount())
        for d in days:
            self.days.appendRow(_cells(d.day, str(d.sessions), f"{d.kwh:.1f}", f"{d.eur:.2f}"))

    def _fill_faults(self, faults: list[Fault]) -> None:
        self.faults.removeRows(0, self.faults.rowCount())
        for f in reversed(faults):  # newest first
            lasted = format_elapsed(f.duration_s) if f.duration_s is not None else "still broken"
            self.faults.appendRow(_cells(short_ts(f.started_at), f.reason or "fault", lasted))
