"""The shared map of the fictional city "Nova Ribera" (used by EV_Central and EV_Driver).

Public surface:

* Qt-free data: :class:`City`, :class:`District`, :class:`Street`, :class:`River`,
  :class:`Area`, :class:`StreetKind`, :func:`load_city`, :class:`CityMapError`.
* Qt widgets (import ``citymap.view`` / ``citymap.tiles`` / ``citymap.scene``, re-exported
  lazily here so headless code that only needs the city never imports PySide6):
  :class:`CityMapView`, :class:`CityScene`, :class:`CpTile`, :class:`MapLegend`,
  :class:`TileData`, :class:`TileLook`, :class:`TileStyle`, :class:`OperatorStyle`,
  :class:`AvailabilityStyle`, :class:`CpStatus`.

See ``docs/citymap-api.md``.
"""

from __future__ import annotations

from typing import Any

from citymap.city import (
    DEFAULT_CITY_PATH,
    Area,
    City,
    CityMapError,
    District,
    River,
    Street,
    StreetKind,
    load_city,
)

_QT_EXPORTS = {
    "CityMapView": "citymap.view",
    "MapLegend": "citymap.view",
    "CityScene": "citymap.scene",
    "CpTile": "citymap.tiles",
    "TileData": "citymap.tiles",
    "TileLook": "citymap.tiles",
    "TileStyle": "citymap.tiles",
    "OperatorStyle": "citymap.tiles",
    "AvailabilityStyle": "citymap.tiles",
    "CpStatus": "citymap.tiles",
}

__all__ = [
    "DEFAULT_CITY_PATH",
    "Area",
    "City",
    "CityMapError",
    "District",
    "River",
    "Street",
    "StreetKind",
    "load_city",
    *_QT_EXPORTS,
]


def __getattr__(name: str) -> Any:
    """Import the Qt parts on first use only."""
    module = _QT_EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'citymap' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
