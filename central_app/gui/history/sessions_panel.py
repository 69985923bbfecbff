"""The Sessions tab: every ticket, filtered by CP, driver, period and ending; totals; CSV."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from central_app.db import DatabaseError
from central_app.gui.history.period import PeriodPicker
from central_app.gui.history.reader import LOADING, HistoryReader
from central_app.gui.history.sessions_model import SessionColumn, SessionsModel
from central_app.history import History, SessionFilter, Totals, write_csv
from wire.display import count
from wire.reasons import END_REASONS, describe_reason

log = logging.getLogger(__name__)

ANY_CP, ANY_REASON = "All charging points", "Any ending"


def describe_totals(t: Totals) -> str:
    return f"{count(t.sessions, 'session')} · {t.kwh:,.1f} kWh · {t.eur:,.2f} €"


TOTALS_STYLE = "font-weight: 600; padding: 2px 4px;"
ERROR_STYLE = "color: #b02a37;"


def failure_text(text: str) -> str:
    """A failed query as the window says it: what failed, and what the operator can do."""
    return f"{text[:1].upper()}{text[1:]}. Refresh to try again."


def export_sessions(history: History, f: SessionFilter, path: Path) -> Totals:
    try:
        with path.open("w", encoding="utf-8", newline="") as out:
            return write_csv(history.sessions(f), out)
    except OSError as exc:
        raise DatabaseError(f"cannot write {path}: {exc.strerror or exc}") from exc


def table_placeholder(table: QTableView) -> QLabel:
    """A grey line in the middle of an empty table ("loading…", "no sessions")."""
    label = QLabel(table.viewport())
    label.setObjectName("tablePlaceholder")
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setWordWrap(True)
    label.setStyleSheet("color: #5f6b7a; font-size: 11pt;")
    QVBoxLayout(table.viewport()).addWidget(label)
    label.hide()
    return label


def sessions_table(model: SessionsModel, parent: QWidget) -> QTableView:
    """A table of tickets sized for them (shared with the CP detail)."""
    table = QTableView(parent)
    table.setModel(model)
    table.setSortingEnabled(True)
    table.horizontalHeader().setSortIndicator(SessionColumn.ENDED, Qt.SortOrder.DescendingOrder)
    table.verticalHeader().setVisible(False)
    table.verticalHeader().setDefaultSectionSize(22)
    table.setAlternatingRowColors(True)
    table.setShowGrid(False)
    table.setWordWrap(False)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    header = table.horizontalHeader()
    header.setHighlightSections(False)
    for column, width in (
        (SessionColumn.ENDED, 140),
        (SessionColumn.STARTED, 140),
        (SessionColumn.CP, 70),
        (SessionColumn.DRIVER, 70),
        (SessionColumn.KWH, 70),
        (SessionColumn.EUR, 64),
        (SessionColumn.DURATION, 70),
    ):
        header.resizeSection(column, width)
    header.setSectionResizeMode(SessionColumn.REASON, QHeaderView.ResizeMode.Stretch)
    return table


class SessionsPanel(QWidget):
    """Filters change the model's query; the table shows only the pages it scrolls to."""

    cpActivated = Signal(str)  # noqa: N815 (Qt naming): double-click on a row

    def __init__(
        self, history: History | HistoryReader | None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.reader = HistoryReader.of(history, self)
        self.history = self.reader.history if self.reader is not None else None
        self.model = SessionsModel(self.reader, self)
        self._applied = False
        # Wide enough for their longest text: a cut "All charging points" read
        # "l charging points", a cut placeholder "Driver…".
        self.cp = QComboBox(self)
        self.cp.setEditable(True)
        self.cp.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.cp.setMinimumContentsLength(len(ANY_CP) + 1)
        self.cp.setToolTip("Type a CP id or pick one")
        self.driver = QLineEdit(self)
        self.driver.setPlaceholderText("Driver id")
        self.driver.setClearButtonEnabled(True)
        self.driver.setMinimumWidth(self.driver.fontMetrics().horizontalAdvance("D-0000000") + 40)
        self.driver.setMaximumWidth(self.driver.minimumWidth() + 40)
        self.period = PeriodPicker(allow_all=True, initial="All time", parent=self)
        self.reason = QComboBox(self)
        # the longest ending ("charging point lost contact with Central") would take the
        # width the CP and driver fields need; the list still opens as wide as its items
        self.reason.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.reason.setMinimumContentsLength(len(ANY_REASON) + 6)
        self.refresh_button = QPushButton("Refresh", self)
        self.refresh_button.setToolTip("Read new tickets")
        self.export_button = QPushButton("Export CSV…", self)
        self.export_button.setToolTip("Save the filtered sessions as a CSV file")
        self.totals = QLabel(self)
        self.totals.setObjectName("historyTotals")
        self.totals.setStyleSheet(TOTALS_STYLE)
        self.table = sessions_table(self.model, self)
        self.placeholder = table_placeholder(self.table)

        bar = QHBoxLayout()
        for widget in (QLabel("CP", self), self.cp, QLabel("Driver", self), self.driver):
            bar.addWidget(widget)
        bar.addWidget(self.period)
        bar.addWidget(self.reason)
        bar.addStretch(1)
        bar.addWidget(self.refresh_button)
        bar.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.totals)
        layout.addWidget(self.table, 1)

        self._load_choices()
        self.cp.currentTextChanged.connect(self.apply_filters)
        self.driver.editingFinished.connect(self.apply_filters)
        self.period.changed.connect(self.apply_filters)
        self.reason.currentIndexChanged.connect(self.apply_filters)
        self.refresh_button.clicked.connect(self.refresh)
        self.export_button.clicked.connect(self._ask_export)
        self.model.totalsChanged.connect(self._show_totals)
        self.model.loadingChanged.connect(self._show_loading)
        self.model.failed.connect(self._show_error)
        self.table.doubleClicked.connect(self._activated)
        self.apply_filters()

    def _load_choices(self) -> None:
        """The CP ids (read off the GUI thread) and the endings PROTOCOL.md fixes (a DISTINCT
        over 100,000 tickets cost 0.2 s per open)."""
        self._fill(self.reason, ANY_REASON, list(END_REASONS))
        if self.cp.count() == 0:
            self._fill(self.cp, ANY_CP, [])  # the ids follow when read
        if self.reader is not None:
            self.reader.ask(
                self, "choices", lambda h: h.cp_ids(), lambda ids: self._fill(self.cp, ANY_CP, ids),
                self._show_error,
            )  # fmt: skip

    def _fill(self, combo: QComboBox, first: str, items: list[str]) -> None:
        combo.blockSignals(True)
        current = combo.currentData()
        text = combo.currentText() if combo.isEditable() else ""
        combo.clear()
        combo.addItem(first, None)
        for item in items:
            combo.addItem(item if combo is self.cp else describe_reason(item), item)
        if current is not None and (i := combo.findData(current)) >= 0:
            combo.setCurrentIndex(i)
        elif combo.isEditable() and text and text != first:
            combo.setCurrentText(text)  # an id typed before the list arrived stays
        combo.blockSignals(False)
        if combo is self.cp:
            self.cp.lineEdit().setCursorPosition(0)

    def current_filter(self) -> SessionFilter:
        text = self.cp.currentText().strip()
        since, until = self.period.bounds()
        return SessionFilter(
            cp_id=None if text in ("", ANY_CP) else text,
            driver_id=self.driver.text().strip() or None,
            since=since,
            until=until,
            reason=self.reason.currentData(),
        )

    def apply_filters(self, *_args) -> None:  # type: ignore[no-untyped-def]
        f = self.current_filter()
        if self._applied and f == self.model.filter:
            return  # e.g. editingFinished without an edit
        self._applied = True
        self.model.set_filter(f)

    def show_cp(self, cp_id: str | None) -> None:
        self.cp.setCurrentText(cp_id or ANY_CP)
        self.cp.lineEdit().setCursorPosition(0)  # the start of the text, not its end

    def refresh(self) -> None:
        self._load_choices()
        self.model.refresh()

    def _show_loading(self, loading: bool) -> None:
        if loading:
            self.totals.setText(LOADING)
            self.totals.setStyleSheet(TOTALS_STYLE + "color: #5f6b7a;")
            self._say_in_table("Reading the sessions from the database…")

    def _show_totals(self, totals: Totals) -> None:
        self.totals.setStyleSheet(TOTALS_STYLE)
        self.totals.setText(describe_totals(totals))
        self._say_in_table("" if totals.sessions else "No sessions match these filters.")

    def _show_error(self, text: str) -> None:
        self.totals.setStyleSheet(TOTALS_STYLE + ERROR_STYLE)
        self.totals.setText(failure_text(text))
        self._say_in_table("The sessions could not be read (see above).")

    def _say_in_table(self, text: str) -> None:
        """Over an empty table only: rows already shown stay until the new ones arrive."""
        self.placeholder.setText(text)
        self.placeholder.setVisible(bool(text) and self.model.rowCount() == 0)

    def export_csv(self, path: Path) -> Totals:
        """Write the filtered sessions (oldest first) to ``path`` (from any thread)."""
        assert self.history is not None
        return export_sessions(self.history, self.model.filter, path)

    def _ask_export(self) -> None:
        if self.reader is None:
            return
        name, _ = QFileDialog.getSaveFileName(
            self, "Export sessions", str(Path.cwd() / "sessions.csv"), "CSV (*.csv)"
        )
        if not name:
            return
        f, path = self.model.filter, Path(name)
        self.totals.setText(f"Exporting to {name}… ({LOADING})")
        self.reader.ask(
            self,
            "export",
            lambda h: export_sessions(h, f, path),
            lambda written: self.totals.setText(f"Exported {describe_totals(written)} to {name}"),
            lambda text: self.totals.setText(f"Export failed: {text}"),
        )

    def _activated(self, index) -> None:  # type: ignore[no-untyped-def]
        record = self.model.record(index.row())
        if record is not None:
            self.cpActivated.emit(record.cp_id)
