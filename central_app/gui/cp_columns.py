"""Columns of the CP table and how a :class:`~central_app.views.CpView` reads in them.

Pure formatting (no model state): the table model, the tooltips and the map adapter share it.
"""

from __future__ import annotations

from enum import IntEnum
from functools import lru_cache

from central_app.gui import theme
from central_app.views import CpStatus, CpView
from wire.timefmt import local_time

__all__ = [
    "HEADERS",
    "HEADER_TIPS",
    "NUMERIC_COLUMNS",
    "Column",
    "cp_tooltip",
    "display_text",
    "filter_key",
    "natural_id",
    "sort_keys",
]

NONE = "—"
_ENGINE_LABELS = {"OK": "OK", "KO": "KO", "UNREACHABLE": "Unreachable"}
_STATUS_RANK = {status: rank for rank, status in enumerate(theme.STATUS_ORDER)}


class Column(IntEnum):
    ID = 0
    LOCATION = 1
    STATUS = 2
    ENGINE = 3
    DRIVER = 4
    KW = 5
    KWH = 6
    EUR = 7
    PRICE = 8
    UPDATED = 9


HEADERS: dict[Column, str] = {
    Column.ID: "CP",
    Column.LOCATION: "Location",
    Column.STATUS: "Status",
    Column.ENGINE: "Engine",
    Column.DRIVER: "Driver",
    Column.KW: "kW",
    Column.KWH: "kWh",
    Column.EUR: "€",
    Column.PRICE: "€/kWh",
    Column.UPDATED: "Updated",
}

HEADER_TIPS: dict[Column, str] = {
    Column.ID: "Charging point id",
    Column.STATUS: "State as the operator sees it (SPEC colours)",
    Column.ENGINE: "Engine health reported by the monitor: OK, KO or UNREACHABLE",
    Column.DRIVER: "Driver id of the running or authorized supply (ids only, never names)",
    Column.KW: "Instantaneous power of the running supply",
    Column.KWH: "Energy delivered so far in the running supply",
    Column.EUR: "Amount so far in the running supply (kWh × price)",
    Column.PRICE: "Price per kWh",
    Column.UPDATED: "Local time of the last change",
}

NUMERIC_COLUMNS = frozenset({Column.KW, Column.KWH, Column.EUR, Column.PRICE})


def _shows_meter(cp: CpView) -> bool:
    """kW/kWh/€ are meaningful while a supply runs (or just ran and still shows a total)."""
    return cp.status is CpStatus.SUPPLYING or cp.kwh > 0 or cp.kw > 0


def cp_tooltip(cp: CpView) -> str:
    """The hover text shared by the table and (if it wants it) the map."""
    lines = [
        f"<b>{cp.cp_id}</b> — {cp.location}",
        f"Status: <b>{theme.status_legend(cp.status)}</b> ({theme.STATUS_SPANISH[cp.status]})",
        f"Engine: {cp.engine or NONE}",
        f"Price: {cp.price:.3f} €/kWh",
    ]
    if cp.admin_state != "ACTIVE" and cp.status is not CpStatus.STOPPED:
        lines.append(f"Operator: {cp.admin_state}")
    if cp.driver_id:
        lines.append(f"Driver: {cp.driver_id}")
    if cp.status is CpStatus.SUPPLYING:
        lines.append(f"{cp.kw:.1f} kW · {cp.kwh:.2f} kWh · {cp.eur:.2f} €")
    lines.append(f"Updated: {local_time(cp.updated_at)}")
    return "<br>".join(lines)


def sort_keys(cp: CpView) -> tuple:
    """What SORT_ROLE returns for each column (same order as :class:`Column`): the model
    sorts by these, so text is case-folded and ids compare naturally."""
    return (
        natural_id(cp.cp_id),
        cp.location.casefold(),
        _STATUS_RANK[cp.status],
        (cp.engine or "").casefold(),
        (cp.driver_id or "").casefold(),
        cp.kw,
        cp.kwh,
        cp.eur,
        cp.price,
        cp.updated_at,
    )


def display_text(cp: CpView, column: int) -> str:
    match column:
        case Column.ID:
            return cp.cp_id
        case Column.LOCATION:
            return cp.location
        case Column.STATUS:
            if cp.admin_state == "STOPPED" and cp.status is not CpStatus.STOPPED:
                # e.g. stopped by the operator while disconnected: it comes back Out of Order
                return f"{theme.status_legend(cp.status)} · stopped"
            return theme.status_legend(cp.status)
        case Column.ENGINE:
            return _ENGINE_LABELS.get(cp.engine, cp.engine) if cp.engine else NONE
        case Column.DRIVER:
            return cp.driver_id or NONE
        case Column.KW:
            return f"{cp.kw:.1f}" if _shows_meter(cp) else NONE
        case Column.KWH:
            return f"{cp.kwh:.2f}" if _shows_meter(cp) else NONE
        case Column.EUR:
            return f"{cp.eur:.2f}" if _shows_meter(cp) else NONE
        case Column.PRICE:
            return f"{cp.price:.3f}"
        case Column.UPDATED:
            return local_time(cp.updated_at)
    return ""


@lru_cache(maxsize=65536)
def natural_id(cp_id: str) -> str:
    """``CP-2`` before ``CP-10``: pad digit runs so plain string order is natural order."""
    out, digits = [], ""
    for ch in cp_id:
        if ch.isdigit():
            digits += ch
            continue
        if digits:
            out.append(digits.zfill(8))
            digits = ""
        out.append(ch.casefold())
    if digits:
        out.append(digits.zfill(8))
    return "".join(out)


def filter_key(cp: CpView) -> str:
    return f"{cp.cp_id}\n{cp.location}\n{cp.driver_id or ''}".casefold()
