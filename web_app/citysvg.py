"""The city map as SVG, drawn once at start from ``resources/city.json`` (no Qt, no I/O).

The same city as the desktop apps' map (``citymap.city``), in the colours of
``citymap.background``: districts, water, parks, the river, streets and the district names.
The SVG's coordinates are the city's map units (y down), so a CP's ``x``/``y`` from
``cp_state`` is where the page puts its marker; the browser scales the whole drawing to the
screen with ``viewBox``.
"""

from __future__ import annotations

from html import escape

from citymap.city import City, Point, StreetKind

__all__ = ["city_svg"]

# citymap.background's palette (the Qt map's colours, as CSS)
LAND = "#f2efe9"
WATER, WATER_EDGE = "#a9d3e8", "#7fb6d5"
PARK, PARK_EDGE = "#c5e6b0", "#9cc98a"
STREET_CASING, STREET_CORE = "#c9bfae", "#ffffff"
AVENUE_CASING, AVENUE_CORE = "#d9a441", "#fde9a8"
DISTRICT_INK = "#5c5247"


def _points(points: tuple[Point, ...]) -> str:
    return " ".join(f"{x:g},{y:g}" for x, y in points)


def city_svg(city: City) -> str:
    """An ``<svg>`` element of the city with an empty ``<g id="cps">`` for the markers."""
    parts = [
        f'<svg id="map" viewBox="0 0 {city.width:g} {city.height:g}" role="img" '
        f'aria-labelledby="map-title" preserveAspectRatio="xMidYMid meet">',
        f'<title id="map-title">Map of {escape(city.name)} with its charging points</title>',
        f'<rect width="{city.width:g}" height="{city.height:g}" fill="{LAND}"/>',
    ]
    for d in city.districts:
        parts.append(
            f'<polygon points="{_points(d.polygon)}" fill="{d.fill}" fill-opacity="0.55" '
            f'stroke="#ffffff" stroke-width="2"/>'
        )
    for area in city.water:
        parts.append(
            f'<polygon points="{_points(area.polygon)}" fill="{WATER}" stroke="{WATER_EDGE}"/>'
        )
    for area in city.parks:
        parts.append(
            f'<polygon points="{_points(area.polygon)}" fill="{PARK}" stroke="{PARK_EDGE}"/>'
        )
    for river in city.rivers:
        parts.append(
            f'<polyline points="{_points(river.points)}" fill="none" stroke="{WATER}" '
            f'stroke-width="{river.width:g}" stroke-linecap="round" stroke-linejoin="round"/>'
        )
    for kind, casing, core, width in (
        (StreetKind.STREET, STREET_CASING, STREET_CORE, 4),
        (StreetKind.AVENUE, AVENUE_CASING, AVENUE_CORE, 7),
    ):
        lines = [s for s in city.streets if s.kind is kind]
        for colour, w in ((casing, width + 2), (core, width)):
            for street in lines:
                parts.append(
                    f'<polyline points="{_points(street.points)}" fill="none" stroke="{colour}" '
                    f'stroke-width="{w}" stroke-linecap="round" stroke-linejoin="round"/>'
                )
    for d in city.districts:
        x, y = d.label_at
        parts.append(
            f'<text class="district" x="{x:g}" y="{y:g}" fill="{DISTRICT_INK}" '
            f'text-anchor="middle">{escape(d.name)}</text>'
        )
    parts.append('<g id="cps"></g></svg>')
    return "\n".join(parts)
