"""The fictional city "Nova Ribera" as plain data (no Qt).

The map drawing (``citymap.view``) and anything else that needs the city (seed data, tests,
a console app) read the same file, ``resources/city.json``, through :func:`load_city`. Keeping
this module Qt-free lets headless code validate positions against the city bounds without
pulling in PySide6.

Coordinates are map units: x grows right (0..width), y grows *down* (0..height), exactly like
Qt scene coordinates, so the view can use them unchanged.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_CITY_PATH",
    "Area",
    "City",
    "CityMapError",
    "District",
    "Point",
    "River",
    "Street",
    "StreetKind",
    "load_city",
    "parse_city",
]

#: ``resources/`` is a top-level folder of the repository, next to this package.
DEFAULT_CITY_PATH = Path(__file__).resolve().parents[1] / "resources" / "city.json"

Point = tuple[float, float]

_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


class CityMapError(ValueError):
    """The city file is missing, is not JSON, or does not describe a valid city.

    The message names the file and the JSON location of the problem (e.g.
    ``districts[2].polygon[4]``) so whoever edits the file can fix it without a debugger.
    """


class StreetKind(StrEnum):
    """Width class of a street; the view draws avenues wider and labels them earlier."""

    AVENUE = "avenue"
    STREET = "street"


@dataclass(frozen=True, slots=True)
class District:
    """A named neighbourhood: a polygon with a fill colour hint and a label anchor."""

    name: str
    polygon: tuple[Point, ...]
    fill: str  # "#rrggbb": a hint; the view may lighten or darken it
    label_at: Point  # where the name is drawn (centroid unless the file says otherwise)


@dataclass(frozen=True, slots=True)
class Street:
    """A named polyline; ``kind`` says how wide it is drawn."""

    name: str
    points: tuple[Point, ...]
    kind: StreetKind


@dataclass(frozen=True, slots=True)
class River:
    """A river drawn as a thick polyline ``width`` map units wide."""

    name: str
    points: tuple[Point, ...]
    width: float


@dataclass(frozen=True, slots=True)
class Area:
    """A named polygon without a colour of its own: parks, the sea, lakes."""

    name: str
    polygon: tuple[Point, ...]


@dataclass(frozen=True, slots=True)
class City:
    """Everything the map draws under the charging points."""

    name: str
    width: float
    height: float
    districts: tuple[District, ...]
    streets: tuple[Street, ...]
    rivers: tuple[River, ...]
    water: tuple[Area, ...]
    parks: tuple[Area, ...]

    def contains(self, x: float, y: float) -> bool:
        """True if (x, y) lies inside the map rectangle (handy to validate CP positions)."""
        return 0 <= x <= self.width and 0 <= y <= self.height

    def on_land(self, x: float, y: float) -> bool:
        """True if (x, y) is in a district and not in the water (district outlines may
        reach into the sea; the water is drawn over them)."""
        return self.district_at(x, y) is not None and not any(
            _point_in_polygon(x, y, area.polygon) for area in self.water
        )

    def district_at(self, x: float, y: float) -> District | None:
        """The district whose polygon contains (x, y), or None (e.g. a point in the sea)."""
        for district in self.districts:
            if _point_in_polygon(x, y, district.polygon):
                return district
        return None


def load_city(path: str | Path | None = None) -> City:
    """Read and validate a city file; ``None`` means the repository's ``resources/city.json``.

    Raises :class:`CityMapError` (never a bare ``OSError`` / ``JSONDecodeError`` /
    ``KeyError``) so a GUI can show one clear message when the file is bad.
    """
    file = Path(path) if path is not None else DEFAULT_CITY_PATH
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise CityMapError(f"cannot read city file {file}: {exc.strerror or exc}") from exc
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CityMapError(
            f"city file {file} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from exc
    try:
        return parse_city(raw)
    except CityMapError as exc:
        raise CityMapError(f"city file {file}: {exc}") from None


def parse_city(raw: Any) -> City:
    """Build a :class:`City` from already-decoded JSON, checking every field and bound."""
    p = _Parser()
    obj = p.obj(raw, "city")
    name = p.text(obj, "name", "city")
    width = p.number(obj, "width", "city", positive=True)
    height = p.number(obj, "height", "city", positive=True)
    p.bounds = (width, height)

    districts = tuple(
        p.district(d, f"districts[{i}]")
        for i, d in enumerate(p.array(obj, "districts", "city", min_len=1))
    )
    streets = tuple(
        p.street(s, f"streets[{i}]")
        for i, s in enumerate(p.array(obj, "streets", "city", required=False))
    )
    rivers = tuple(
        p.river(r, f"rivers[{i}]")
        for i, r in enumerate(p.array(obj, "rivers", "city", required=False))
    )
    water = tuple(
        p.area(a, f"water[{i}]")
        for i, a in enumerate(p.array(obj, "water", "city", required=False))
    )
    parks = tuple(
        p.area(a, f"parks[{i}]")
        for i, a in enumerate(p.array(obj, "parks", "city", required=False))
    )
    seen: set[str] = set()
    for i, d in enumerate(districts):
        if d.name in seen:
            raise CityMapError(f"districts[{i}].name: duplicate district name {d.name!r}")
        seen.add(d.name)
    return City(name, width, height, districts, streets, rivers, water, parks)


class _Parser:
    """Small typed accessors that report the JSON location of every error."""

    def __init__(self) -> None:
        self.bounds: tuple[float, float] = (float("inf"), float("inf"))

    def obj(self, value: Any, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise CityMapError(f"{where}: expected an object, got {type(value).__name__}")
        return value

    def field(self, obj: dict[str, Any], key: str, where: str) -> Any:
        if key not in obj:
            raise CityMapError(f"{where}: missing field {key!r}")
        return obj[key]

    def text(self, obj: dict[str, Any], key: str, where: str) -> str:
        value = self.field(obj, key, where)
        if not isinstance(value, str) or not value.strip():
            raise CityMapError(f"{where}.{key}: expected a non-empty string, got {value!r}")
        return value

    def number(self, obj: dict[str, Any], key: str, where: str, *, positive: bool = False) -> float:
        value = self.field(obj, key, where)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise CityMapError(f"{where}.{key}: expected a number, got {value!r}")
        if positive and value <= 0:
            raise CityMapError(f"{where}.{key}: must be > 0, got {value!r}")
        return float(value)

    def array(
        self,
        obj: dict[str, Any],
        key: str,
        where: str,
        *,
        required: bool = True,
        min_len: int = 0,
    ) -> list[Any]:
        if key not in obj and not required:
            return []
        value = self.field(obj, key, where)
        if not isinstance(value, list):
            raise CityMapError(f"{where}.{key}: expected a list, got {type(value).__name__}")
        if len(value) < min_len:
            raise CityMapError(f"{where}.{key}: needs at least {min_len} entries")
        return value

    def point(self, value: Any, where: str) -> Point:
        if (
            not isinstance(value, list | tuple)
            or len(value) != 2
            or not all(isinstance(c, int | float) and not isinstance(c, bool) for c in value)
        ):
            raise CityMapError(f"{where}: expected [x, y] numbers, got {value!r}")
        x, y = float(value[0]), float(value[1])
        width, height = self.bounds
        if not (0 <= x <= width and 0 <= y <= height):
            raise CityMapError(
                f"{where}: point ({x:g}, {y:g}) lies outside the map 0..{width:g} x 0..{height:g}"
            )
        return (x, y)

    def points(self, obj: dict[str, Any], key: str, where: str, min_len: int) -> tuple[Point, ...]:
        raw = self.array(obj, key, where)
        if len(raw) < min_len:
            raise CityMapError(f"{where}.{key}: needs at least {min_len} points, got {len(raw)}")
        return tuple(self.point(v, f"{where}.{key}[{i}]") for i, v in enumerate(raw))

    def district(self, value: Any, where: str) -> District:
        obj = self.obj(value, where)
        name = self.text(obj, "name", where)
        polygon = self.points(obj, "polygon", where, 3)
        fill = self.text(obj, "fill", where)
        if not _COLOUR.match(fill):
            raise CityMapError(f"{where}.fill: expected a colour like '#a1b2c3', got {fill!r}")
        label_at = (
            self.point(obj["label_at"], f"{where}.label_at")
            if "label_at" in obj
            else _centroid(polygon)
        )
        return District(name, polygon, fill, label_at)

    def street(self, value: Any, where: str) -> Street:
        obj = self.obj(value, where)
        name = self.text(obj, "name", where)
        points = self.points(obj, "points", where, 2)
        kind_text = obj.get("kind", StreetKind.STREET.value)
        try:
            kind = StreetKind(kind_text)
        except ValueError:
            allowed = ", ".join(k.value for k in StreetKind)
            raise CityMapError(
                f"{where}.kind: expected one of {allowed}, got {kind_text!r}"
            ) from None
        return Street(name, points, kind)

    def river(self, value: Any, where: str) -> River:
        obj = self.obj(value, where)
        name = self.text(obj, "name", where)
        points = self.points(obj, "points", where, 2)
        width = self.number(obj, "width", where, positive=True)
        return River(name, points, width)

    def area(self, value: Any, where: str) -> Area:
        obj = self.obj(value, where)
        return Area(self.text(obj, "name", where), self.points(obj, "polygon", where, 3))


def _centroid(polygon: tuple[Point, ...]) -> Point:
    """Area centroid of a simple polygon (falls back to the vertex mean if degenerate)."""
    area2 = cx = cy = 0.0
    n = len(polygon)
    for i in range(n):
        x0, y0 = polygon[i]
        x1, y1 = polygon[(i + 1) % n]
        cross = x0 * y1 - x1 * y0
        area2 += cross
        cx += (x0 + x1) * cross
        cy += (y0 + y1) * cross
    if abs(area2) < 1e-9:
        return (sum(p[0] for p in polygon) / n, sum(p[1] for p in polygon) / n)
    return (cx / (3 * area2), cy / (3 * area2))


def _point_in_polygon(x: float, y: float, polygon: tuple[Point, ...]) -> bool:
    """Even-odd ray casting; good enough for district look-ups."""
    inside = False
    n = len(polygon)
    j = n - 1
    for i in range(n):
        xi, yi = polygon[i]
        xj, yj = polygon[j]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside
