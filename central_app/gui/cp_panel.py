"""The charging points table with its filter row (text + state) and a "shown / total" count."""

from __future__ import annotations

from PySide6.QtCore import QItemSelection, QItemSelectionModel, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from central_app.gui import theme
from central_app.gui.cp_model import Column, CpFilterProxyModel, CpTableModel
from central_app.views import CpStatus
from wire.display import count

__all__ = ["CpPanel"]

_WIDTHS = {
    Column.ID: 102,  # "CP-00001" in bold beside its icon, at fleet scale
    Column.LOCATION: 96,
    Column.STATUS: 114,
    Column.ENGINE: 92,
    Column.DRIVER: 60,
    Column.KW: 46,
    Column.KWH: 56,
    Column.EUR: 52,
    Column.PRICE: 54,
    Column.UPDATED: 68,
}

#: Shown on demand (right-click the header): the price and the time are in every tooltip.
HIDDEN_BY_DEFAULT = (Column.PRICE, Column.UPDATED)


class CpPanel(QWidget):
    """Sortable, filterable view of :class:`CpTableModel` through :class:`CpFilterProxyModel`."""

    #: The selected CP ids changed (by the operator or by :meth:`select_ids`).
    selectionChangedIds = Signal(list)

    def __init__(self, model: CpTableModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.proxy = CpFilterProxyModel(self)
        self.proxy.setSourceModel(model)

        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Filter by CP, location or driver…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._on_filter_changed)
        self.status_filter = QComboBox(self)
        self.status_filter.addItem("All states", None)
        for status in theme.STATUS_ORDER:
            self.status_filter.addItem(
                theme.status_icon(status), theme.status_legend(status), status.value
            )
        self.status_filter.currentIndexChanged.connect(self._on_filter_changed)
        self.count_label = QLabel(self)
        self.count_label.setObjectName("cpCount")
        self.count_label.setStyleSheet("color: #5f6b7a;")

        self.table = QTableView(self)
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(Column.ID, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.setCornerButtonEnabled(False)
        self.table.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.table.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.verticalHeader().setDefaultSectionSize(24)
        header = self.table.horizontalHeader()
        header.setHighlightSections(False)
        header.setStretchLastSection(False)
        for column, width in _WIDTHS.items():
            header.resizeSection(column, width)
        header.setSectionResizeMode(Column.LOCATION, QHeaderView.ResizeMode.Stretch)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        for column in HIDDEN_BY_DEFAULT:
            header.setSectionHidden(column, True)
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header.customContextMenuRequested.connect(self._header_menu)
        self.table.selectionModel().selectionChanged.connect(self._on_selection_changed)

        filters = QHBoxLayout()
        filters.setContentsMargins(0, 0, 0, 0)
        filters.addWidget(self.search, 1)
        filters.addWidget(self.status_filter)
        filters.addWidget(self.count_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(6)
        layout.addLayout(filters)
        layout.addWidget(self.table)

        for sig in (
            self.proxy.rowsInserted,
            self.proxy.rowsRemoved,
            self.proxy.modelReset,
            self.proxy.layoutChanged,
        ):
            sig.connect(self._update_count)
        self._update_count()

    #: The Location column grows with its longest text up to this (then the tooltip helps).
    LOCATION_MAX = 170

    def preferred_width(self) -> int:
        """The panel's width with every shown column at its default width and Location wide
        enough for the longest location (capped at ``LOCATION_MAX``): the window sizes its
        dock with it, so Location is not squeezed to "Locat…" beside the map."""
        header = self.table.horizontalHeader()
        metrics = self.table.fontMetrics()
        locations = {self.model.cp_at(r).location for r in range(self.model.rowCount())}
        longest = max((metrics.horizontalAdvance(text) for text in locations), default=0)
        location = min(self.LOCATION_MAX, max(_WIDTHS[Column.LOCATION], longest + 18))
        columns = sum(
            location if column is Column.LOCATION else _WIDTHS[column]
            for column in Column
            if not header.isSectionHidden(column)
        )
        scrollbar = self.table.style().pixelMetric(
            self.table.style().PixelMetric.PM_ScrollBarExtent
        )
        margins = self.layout().contentsMargins()
        frame = 2 * self.table.frameWidth()
        return columns + scrollbar + frame + margins.left() + margins.right()

    def _header_menu(self, pos) -> None:
        """Let the operator choose the columns (the id always stays)."""
        header = self.table.horizontalHeader()
        menu = QMenu(self)
        for column in Column:
            if column is Column.ID:
                continue
            action = menu.addAction(self.model.headerData(column, Qt.Orientation.Horizontal))
            action.setCheckable(True)
            action.setChecked(not header.isSectionHidden(column))
            action.toggled.connect(lambda shown, c=column: header.setSectionHidden(c, not shown))
        menu.exec(header.mapToGlobal(pos))

    # --- selection ----------------------------------------------------------------------------

    def selected_ids(self) -> list[str]:
        rows = self.table.selectionModel().selectedRows(Column.ID)
        cp_at, to_source = self.model.cp_at, self.proxy.mapToSource
        return [cp_at(to_source(i).row()).cp_id for i in rows]

    def select_ids(self, ids: list[str], *, scroll: bool = True) -> None:
        """Select exactly these CPs; CPs hidden by the filter make the filter reset."""
        rows = [self.model.row_of(cp_id) for cp_id in ids]
        rows = [r for r in rows if r >= 0]
        proxy_rows = [self.proxy.mapFromSource(self.model.index(r, 0)) for r in rows]
        if any(not i.isValid() for i in proxy_rows):
            self.clear_filters()
            proxy_rows = [self.proxy.mapFromSource(self.model.index(r, 0)) for r in rows]
        selection = QItemSelection()
        last = self.proxy.columnCount() - 1
        for index in proxy_rows:
            selection.select(index, index.siblingAtColumn(last))
        flags = QItemSelectionModel.SelectionFlag.ClearAndSelect
        self.table.selectionModel().select(selection, flags)
        if proxy_rows:
            self.table.selectionModel().setCurrentIndex(
                proxy_rows[-1], QItemSelectionModel.SelectionFlag.NoUpdate
            )
            if scroll:
                self.table.scrollTo(proxy_rows[-1])

    def _on_selection_changed(self, *_args) -> None:
        self.selectionChangedIds.emit(self.selected_ids())

    # --- filter -------------------------------------------------------------------------------

    def set_status_filter(self, status: CpStatus | None) -> None:
        index = self.status_filter.findData(None if status is None else status.value)
        self.status_filter.setCurrentIndex(max(0, index))

    def clear_filters(self) -> None:
        self.search.clear()
        self.status_filter.setCurrentIndex(0)

    def _on_filter_changed(self, *_args) -> None:
        value = self.status_filter.currentData()
        self.proxy.set_statuses(None if value is None else [CpStatus(value)])
        self.proxy.set_text(self.search.text())
        self._update_count()

    def _update_count(self, *_args) -> None:
        shown, total = self.proxy.rowCount(), self.model.rowCount()
        self.count_label.setText(
            count(shown, "CP") if shown == total else f"{shown:,} of {count(total, 'CP')}"
        )
