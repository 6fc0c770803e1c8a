"""Building the folium maps: the district map, the small point map and the point picker.

Scale: the district map embeds no asset and no hazard. Each asset kind and hazard severity
is an empty layer element (its entry in the layer control); the shared script
``maps/static/map.js`` fills them with what each view needs, fetched from ``maps.api``
(``ViewportControl``), and a marker's popup is fetched from the server when it is clicked
(HTML built here, every value escaped). The small maps embed their few points as JSON.

Safety: folium does not escape popup, tooltip or GeoJSON text. Every HTML snippet that the
browser shows is built in Python with ``markupsafe.escape``; every JSON document embedded in
a ``<script>`` goes through ``script_json``, which cannot close the script element.

Content-Security-Policy (``core.security``): the inline ``<script>`` and ``<style>`` elements
folium writes (the header's and the map's script) carry the response's nonce; the map stays
in the page, not in a sandboxed frame, because its popups link into the app, the point picker
writes into the page's form and the locate-me button asks for the phone's position.

Offline: ``DistrictMap`` takes Leaflet, the cluster plugin and our own script and style from
the app's ``static/`` (vendored from npm), never from a CDN. Tiles are configuration.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple
from urllib.parse import quote

import folium
import numpy as np
import orjson
import shapely
from branca.element import CssLink, Element, JavascriptLink, MacroElement
from flask import current_app, url_for
from flask_babel import gettext as _
from geoalchemy2.shape import to_shape
from markupsafe import Markup, escape
from shapely.geometry import mapping
from sqlalchemy import select

from assets.forms import STATUS_LABELS
from assets.kinds import KINDS
from assets.models import Asset, Grid
from core.extensions import db
from core.security import csp_nonce
from core.security import tile_origins as origins_of
from hazards.services import (
    CATEGORY_LABELS,
    HAZARD_STATUS_LABELS,
    SEVERITY_LABELS,
    checklist_label,
    describe,
)
from maps.coords import wgs84_to_gcj02, wgs84_to_gcj02_arrays
from maps.status import (
    MAP_STATUS_LABELS,
    MAP_STATUS_SYMBOLS,
    MAP_STATUSES,
    neighbour_assets_query,
)

# --- Vendored front-end files ---------------------------------------------------------------

# Every file folium's Map would take from a CDN, by folium's own name for it, and the
# cluster plugin's: all served from static/vendor (see static/vendor/README.md).
VENDORED_FILES: dict[str, str] = {
    "leaflet": "vendor/leaflet-1.9.4/leaflet.js",
    "jquery": "vendor/jquery-3.7.1/jquery.min.js",
    "bootstrap": "vendor/bootstrap-5.2.2/bootstrap.bundle.min.js",
    "awesome_markers": "vendor/leaflet.awesome-markers-2.0.5/leaflet.awesome-markers.js",
    "leaflet_css": "vendor/leaflet-1.9.4/leaflet.css",
    "bootstrap_css": "vendor/bootstrap-5.2.2/bootstrap.min.css",
    "glyphicons_css": "vendor/glyphicons-only-bootstrap-1.0.1/css/bootstrap.min.css",
    "awesome_markers_font_css": "vendor/fontawesome-free-6.2.0/css/all.min.css",
    "awesome_markers_css": "vendor/leaflet.awesome-markers-2.0.5/leaflet.awesome-markers.css",
    "awesome_rotate_css": "vendor/folium/leaflet.awesome.rotate.css",
    "markerclusterjs": "vendor/leaflet.markercluster-1.5.3/leaflet.markercluster.js",
    "markerclustercss": "vendor/leaflet.markercluster-1.5.3/MarkerCluster.css",
    "markerclusterdefaultcss": "vendor/leaflet.markercluster-1.5.3/MarkerCluster.Default.css",
    "Control_locate_min_js": "vendor/leaflet.locatecontrol-0.90.1/L.Control.Locate.min.js",
    "Control_locate_min_css": "vendor/leaflet.locatecontrol-0.90.1/L.Control.Locate.min.css",
}
# What our maps load: Leaflet and the cluster plugin. jQuery, Bootstrap and the awesome
# markers (folium's other defaults) are vendored for folium elements that need them, but our
# maps do not, and Bootstrap's CSS would restyle the whole page.
MAP_JS = ("leaflet",)
MAP_CSS = ("leaflet_css",)
CLUSTER_JS = ("markerclusterjs",)
CLUSTER_CSS = ("markerclustercss", "markerclusterdefaultcss")
LOCATE_JS = ("Control_locate_min_js",)
LOCATE_CSS = ("Control_locate_min_css",)


def vendored(names: Iterable[str]) -> list[tuple[str, str]]:
    return [(name, url_for("static", filename=VENDORED_FILES[name])) for name in names]


def own(name: str, filename: str) -> tuple[str, str]:
    return (name, url_for("maps.static", filename=filename))


# --- Safe embedding -------------------------------------------------------------------------

_SCRIPT_UNSAFE = {
    ord("<"): "\\u003c",
    ord(">"): "\\u003e",
    ord("&"): "\\u0026",
    ord("'"): "\\u0027",
    0x2028: "\\u2028",
    0x2029: "\\u2029",
}


def script_json(value: Any) -> Markup:
    """JSON for a JavaScript expression inside ``<script>``: it cannot close the element
    (``</script>``, ``<!--``), start markup, or break a line in older engines."""
    text = orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY).decode()
    return Markup(text.translate(_SCRIPT_UNSAFE))  # noqa: S704 (escaped for <script> above)


# --- Tiles and coordinates --------------------------------------------------------------------

MAX_ZOOM = 19
TIANDITU_LAYERS = (("vec_w", "vec"), ("cva_w", "cva"))


def tile_setting() -> str:
    setting = str(current_app.config.get("MAP_TILES") or "none").strip().lower()
    if setting == "tianditu" and not current_app.config.get("TIANDITU_KEY"):
        current_app.logger.warning("MAP_TILES=tianditu needs TIANDITU_KEY; drawing no tiles")
        return "none"
    return setting if setting in {"none", "osm", "tianditu", "gaode"} else "none"


def tile_layers(setting: str) -> list[folium.TileLayer]:
    if setting == "osm":
        return [
            folium.TileLayer(
                "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
                attr="&copy; OpenStreetMap contributors",
                max_zoom=MAX_ZOOM,
                control=False,
            )
        ]
    if setting == "gaode":
        return [
            folium.TileLayer(
                "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1"
                "&style=8&x={x}&y={y}&z={z}",
                attr="&copy; AutoNavi",
                subdomains="1234",
                max_zoom=MAX_ZOOM,
                control=False,
            )
        ]
    if setting == "tianditu":
        key = current_app.config["TIANDITU_KEY"]
        return [
            folium.TileLayer(
                f"https://t{{s}}.tianditu.gov.cn/{layer}/wmts?SERVICE=WMTS&REQUEST=GetTile"
                f"&VERSION=1.0.0&LAYER={name}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
                f"&TILEMATRIX={{z}}&TILEROW={{y}}&TILECOL={{x}}&tk={key}",
                attr="&copy; 天地图 Tianditu",
                subdomains="01234567",
                max_zoom=MAX_ZOOM,
                control=False,
                overlay=name == "cva",
            )
            for layer, name in TIANDITU_LAYERS
        ]
    return []


def tile_origins(setting: str) -> list[str]:
    """Where the tiles of ``setting`` come from (the pages' ``img-src``)."""
    return origins_of(
        (layer.tiles, str(layer.options.get("subdomains", ""))) for layer in tile_layers(setting)
    )


class Projector:
    """Turns stored WGS-84 points into the drawn datum: GCJ-02 over Gaode tiles, else as is."""

    def __init__(self, setting: str):
        self.shift = setting == "gaode"

    def point(self, longitude: float, latitude: float) -> tuple[float, float]:
        return wgs84_to_gcj02(longitude, latitude) if self.shift else (longitude, latitude)

    def arrays(self, longitudes: np.ndarray, latitudes: np.ndarray):
        if self.shift:
            return wgs84_to_gcj02_arrays(longitudes, latitudes)
        return longitudes, latitudes

    def geometry(self, geometry):
        if not self.shift:
            return geometry

        def shifted(coordinates: np.ndarray) -> np.ndarray:
            longitudes, latitudes = wgs84_to_gcj02_arrays(coordinates[:, 0], coordinates[:, 1])
            return np.column_stack([longitudes, latitudes])

        return shapely.transform(geometry, shifted)


# --- The map and its layers --------------------------------------------------------------------


class DistrictMap(folium.Map):
    """A folium Map whose scripts and styles come from the app, valid without tiles."""

    _template = folium.Map._template  # replaced below: the same script, a page-safe header

    def __init__(self, setting: str, **kwargs: Any):
        layers = tile_layers(setting)
        super().__init__(tiles=None, control_scale=True, **kwargs)
        self.csp_nonce = csp_nonce()
        self.options["max_zoom"] = MAX_ZOOM  # clusters need it even when there are no tiles
        self.default_js = [*vendored(MAP_JS), *vendored(CLUSTER_JS), own("sar_map_js", "map.js")]
        self.default_css = [
            *vendored(MAP_CSS),
            *vendored(CLUSTER_CSS),
            own("sar_map_css", "map.css"),
        ]
        for layer in layers:
            self.add_child(layer)


# folium's Map header sets ``html, body {height: 100%; margin: 0}`` for a stand-alone page;
# ours is embedded in the app's pages, so the header keeps only the map's own box.
DistrictMap._template = folium.template.Template(
    """
    {% macro header(this, kwargs) %}
        <style nonce="{{ this.csp_nonce }}">
            #{{ this.get_name() }} {
                position: {{ this.position }};
                width: {{ this.width[0] }}{{ this.width[1] }};
                height: {{ this.height[0] }}{{ this.height[1] }};
            }
            .leaflet-container { font-size: {{ this.font_size }}; }
        </style>
        <script nonce="{{ this.csp_nonce }}">
            L_NO_TOUCH = {{ this.global_switches.no_touch|tojson }};
            L_DISABLE_3D = {{ this.global_switches.disable_3d|tojson }};
        </script>
    {% endmacro %}

    {% macro html(this, kwargs) %}
        <div class="folium-map sar-map" id={{ this.get_name()|tojson }}></div>
    {% endmacro %}

    {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.map(
            {{ this.get_name()|tojson }},
            {
                center: {{ this.location|tojson }},
                crs: L.CRS.{{ this.crs }},
                ...{{ this.options|tojavascript }}
            }
        );
        {%- if this.control_scale %}
        L.control.scale({imperial: false}).addTo({{ this.get_name() }});
        {%- endif %}
        SAR.ready({{ this.get_name() }});
        window.sarMap = {{ this.get_name() }};
    {% endmacro %}
    """
)


class RawScript(Element):
    """Script text added to the figure as it is.

    branca wraps each macro's output in ``Element(text)``, which compiles the text as a
    Jinja template: user text such as ``{{ … }}`` or ``{% raw %}`` inside it would be
    evaluated on the server (or break the page). Data never takes that path: it is added
    through this element, whose ``render`` returns the text untouched.
    """

    def __init__(self, text: str):
        super().__init__()
        self.text = text

    def render(self, **kwargs: Any) -> str:
        return self.text


class DataLayer(folium.map.Layer):
    """A layer drawn by ``SAR.<factory>(map, data, options)`` from embedded JSON."""

    _template = folium.template.Template("")

    def __init__(
        self,
        factory: str,
        key: str,
        name: str,
        data: Any,
        options: dict[str, Any] | None = None,
        show: bool = True,
    ):
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "SarLayer"
        self.factory = factory  # a constant of this module, never input
        self.key = key
        self.data = data
        self.options = options or {}

    def render(self, **kwargs: Any) -> None:
        name = self.get_name()
        script = (
            f"var {name} = SAR.{self.factory}({self._parent.get_name()}, "
            f"{script_json(self.data)}, {script_json(self.options)});\n"
            f"SAR.register({script_json(self.key)}, {name});\n"
        )
        self.get_root().script.add_child(RawScript(script), name=name)
        super().render(**kwargs)


class SharedData(MacroElement):
    """A JSON document given once to the page (``SAR.share(key, data)``), which several layers
    draw: their data is ``{"shared": key}`` (the second-level grids are both outlines and the
    choropleth, and embedding them twice doubled the page)."""

    _template = folium.template.Template("")

    def __init__(self, key: str, data: Any):
        super().__init__()
        self._name = "SharedData"
        self.key = key
        self.data = data

    def render(self, **kwargs: Any) -> None:
        script = f"SAR.share({script_json(self.key)}, {script_json(self.data)});\n"
        self.get_root().script.add_child(RawScript(script), name=self.get_name())
        super().render(**kwargs)


class GridViewControl(MacroElement):
    """The grids of the view, fetched as the map moves when the registry has too many to embed
    (``SAR.gridView`` asks ``maps.api`` and refills the grid layers)."""

    _template = folium.template.Template("")

    def __init__(self, filters: dict[str, Any], gcj02: bool):
        super().__init__()
        self._name = "GridView"
        self.filters = filters
        self.gcj02 = gcj02

    def render(self, **kwargs: Any) -> None:
        options = {
            "filters": self.filters,
            "gridsUrl": url_for("maps_api.map_grids"),
            "gcj02": self.gcj02,
        }
        script = f"SAR.gridView({self._parent.get_name()}, {script_json(options)});\n"
        self.get_root().script.add_child(RawScript(script), name=self.get_name())
        super().render(**kwargs)


class LocateMe(MacroElement):
    """The "show where I am" button (the Leaflet.Locate plugin, served by the app), drawn by
    ``SAR.locateControl``: it centres the map on the phone's position, shifted to GCJ-02 over
    Gaode tiles like every other drawn point."""

    _template = folium.template.Template("")

    def __init__(self, gcj02: bool, status_id: str | None = None):
        super().__init__()
        self._name = "LocateMe"
        self.gcj02 = gcj02
        self.status_id = status_id  # the page's element that says when locating fails

    def render(self, **kwargs: Any) -> None:
        figure = self.get_root()
        for name, url in vendored(LOCATE_JS):
            figure.header.add_child(JavascriptLink(url), name=name)
        for name, url in vendored(LOCATE_CSS):
            figure.header.add_child(CssLink(url), name=name)
        options = {
            "gcj02": self.gcj02,
            "title": _("Show where I am"),
            "popup": _("You are within %(m)s m of this point.", m="{distance}"),
            "failed": _("Your location could not be found."),
            "statusId": self.status_id,
        }
        script = f"SAR.locateControl({self._parent.get_name()}, {script_json(options)});\n"
        figure.script.add_child(RawScript(script), name=self.get_name())
        super().render(**kwargs)


# --- Data of the layers --------------------------------------------------------------------------

KIND_SHAPES = {"charging_station": "circle", "elevator_blocker": "square"}
DEFAULT_SHAPE = "diamond"
SEVERITY_COLOURS = {"major": "#c62828", "general": "#b45309"}  # >= 3:1 on a white map
# Overdue inspections per grid: (lowest count, fill colour, legend label).
CHOROPLETH_CLASSES = (
    (0, "#f7f7f7", "0"),
    (1, "#fdd49e", "1–2"),
    (3, "#fc8d59", "3–5"),
    (6, "#d7301f", "6–10"),
    (11, "#7f0000", "> 10"),
)


def kind_shape(kind: str) -> str:
    return KIND_SHAPES.get(kind, DEFAULT_SHAPE)


def kind_label(kind: str) -> str:
    return str(KINDS[kind].label) if kind in KINDS else kind


def choropleth_colour(count: int) -> str:
    colour = CHOROPLETH_CLASSES[0][1]
    for lowest, fill, _label in CHOROPLETH_CLASSES:
        if count >= lowest:
            colour = fill
    return colour


@dataclass
class DrawnAssets:
    """The assets of one kind, as arrays ready for the page."""

    kind: str
    latitudes: np.ndarray
    longitudes: np.ndarray
    codes: list[str]
    statuses: np.ndarray  # index into MAP_STATUSES
    popups: list[str] | None = None

    def columns(self) -> dict[str, list[Any]]:
        """Column arrays for the page: no per-asset object on either side (100k on a city's
        map). ``map.js`` reads asset i as ``lat[i], lon[i], code[i], status[i]``."""
        columns: dict[str, list[Any]] = {
            "lat": np.round(self.latitudes, 6).tolist(),
            "lon": np.round(self.longitudes, 6).tolist(),
            "code": self.codes,
            "status": self.statuses.tolist(),
        }
        if self.popups is not None:
            columns["popup"] = self.popups
        return columns


def asset_layer(drawn: DrawnAssets, cluster: bool = True) -> DataLayer:
    data = {
        "kind": drawn.kind,
        "shape": kind_shape(drawn.kind),
        "statuses": list(MAP_STATUSES),
        "symbols": [MAP_STATUS_SYMBOLS[status] for status in MAP_STATUSES],
        **drawn.columns(),
    }
    options = {
        "cluster": cluster,
        "popupUrl": url_for("maps.asset_popup", code="__CODE__"),
        "loading": _("Loading…"),
        "failed": _("The details could not be loaded."),
    }
    return DataLayer("assetLayer", f"assets:{drawn.kind}", kind_label(drawn.kind), data, options)


def grid_features(
    grids: Sequence[Grid], projector: Projector, overdue: dict[int, int] | None
) -> dict[str, Any]:
    """The grids as a GeoJSON FeatureCollection for ``SAR.gridLayer``: each one's code, label
    and centre (its label's place), its tooltip and, with ``overdue`` (grid id -> overdue
    inspections), the choropleth's fill and line."""
    features = []
    for grid in grids:
        shape = projector.geometry(to_shape(grid.boundary))
        centre = shape.representative_point()  # inside the grid, whatever its shape
        properties: dict[str, Any] = {
            "code": grid.code,
            "label": str(Markup("{} {}").format(grid.code, grid.name)),
            "centre": [round(centre.y, 6), round(centre.x, 6)],
        }
        properties["tooltip"] = str(Markup("<strong>{}</strong> {}").format(grid.code, grid.name))
        if overdue is not None:
            count = overdue.get(grid.id, 0)
            properties["fill"] = choropleth_colour(count)
            # the choropleth's line under the tooltip (map.js): one feature serves both layers
            properties["overdue"] = str(escape(_("Overdue inspections: %(count)d", count=count)))
        features.append(
            {
                "type": "Feature",
                "geometry": mapping(shape),
                "properties": properties,
            }
        )
    return {"type": "FeatureCollection", "features": features}


class HazardPopups:
    """Builds hazard popups; the labels are translated once per page, not once per hazard."""

    def __init__(self) -> None:
        self.headings = [
            escape(label) for label in (_("Category"), _("Severity"), _("Status"), _("Deadline"))
        ]
        self.description = escape(_("Description"))
        self.categories = {key: escape(label) for key, label in CATEGORY_LABELS.items()}
        self.severities = {key: escape(label) for key, label in SEVERITY_LABELS.items()}
        self.statuses = {key: escape(label) for key, label in HAZARD_STATUS_LABELS.items()}
        self.link = url_for("hazards.hazard_detail", code="__CODE__")
        self.item_labels: dict[tuple[str | None, str], str] = {}

    def what_is_wrong(self, hazard) -> str:
        """What is wrong (``hazards.services.describe``), each item label translated once."""
        kind = hazard.asset.kind if hazard.asset is not None else None
        labels = []
        for key in hazard.failed_items or ():
            if (kind, key) not in self.item_labels:
                self.item_labels[kind, key] = checklist_label(kind, key)
            labels.append(self.item_labels[kind, key])
        return describe(hazard.description, labels, hazard.inspection_id is not None)

    def html(self, hazard) -> str:
        """A hazard's popup: every stored value escaped."""
        values = [
            self.categories.get(hazard.category) or escape(hazard.category),
            self.severities.get(hazard.severity) or escape(hazard.severity),
            self.statuses.get(hazard.status) or escape(hazard.status),
            hazard.deadline.isoformat(),
        ]
        rows = "".join(
            f"<tr><th>{heading}</th><td>{value}</td></tr>"
            for heading, value in zip(self.headings, values, strict=True)
        )
        code = escape(hazard.code)
        link = escape(self.link.replace("__CODE__", quote(hazard.code, safe="")))
        return (
            f'<div class="sar-popup"><a class="sar-popup-title" href="{link}">{code}</a>'
            f"<table>{rows}<tr><th>{self.description}</th>"
            f"<td>{escape(self.what_is_wrong(hazard))}</td></tr></table></div>"
        )


def hazard_layers() -> list[DataLayer]:
    """One layer per severity, empty: the view's hazards are fetched (``SAR.viewport``)."""
    names = {
        "major": _("Open hazards: major"),
        "general": _("Open hazards: general"),
    }
    return [
        DataLayer(
            "hazardLayer",
            f"hazards:{severity}",
            names[severity],
            {"severity": severity},
            {"colour": colour},
        )
        for severity, colour in SEVERITY_COLOURS.items()
    ]


def empty_assets(kind: str) -> DrawnAssets:
    return DrawnAssets(kind, np.array([]), np.array([]), [], np.array([], dtype=int))


class ViewportControl(MacroElement):
    """The district map's view, fetched as it moves: ``SAR.viewport`` asks ``maps.api`` for
    the assets and open hazards of each view, with the page's filters."""

    _template = folium.template.Template("")

    def __init__(self, kinds: Sequence[str], filters: dict[str, Any], gcj02: bool):
        super().__init__()
        self._name = "Viewport"
        self.kinds = list(kinds)
        self.filters = filters
        self.gcj02 = gcj02

    def render(self, **kwargs: Any) -> None:
        options = {
            "kinds": self.kinds,
            "filters": self.filters,
            "gcj02": self.gcj02,
            "assetsUrl": url_for("maps_api.map_assets"),
            "hazardsUrl": url_for("maps_api.map_hazards"),
            "hazardPopupUrl": url_for("maps.hazard_popup", code="__CODE__"),
            "loading": _("Loading…"),
            "failed": _("The details could not be loaded."),
            "failedView": _("The map could not be loaded."),
            "drawnText": _("%(n)s assets drawn.", n="{count}"),
            "truncatedText": _("More are here than can be drawn: zoom in or filter."),
            "clusterTitle": _("%(n)s assets here: zoom in", n="{count}"),
            "asOfText": _("Counts as of %(time)s.", time="{time}"),
        }
        script = f"SAR.viewport({self._parent.get_name()}, {script_json(options)});\n"
        self.get_root().script.add_child(RawScript(script), name=self.get_name())
        super().render(**kwargs)


def status_chip(map_status: str) -> Markup:
    """The status's symbol on its colour, its name for screen readers and on hover."""
    label = MAP_STATUS_LABELS[map_status]
    return Markup(
        '<span class="sar-chip sar-status-{}" title="{}">'
        '<span aria-hidden="true">{}</span><span class="sar-hidden">{}</span></span>'
    ).format(map_status, label, MAP_STATUS_SYMBOLS[map_status], label)


def asset_popup_html(
    asset: Asset,
    map_status: str,
    next_due: date | None,
    open_hazards: int,
    logging_link: bool,
    reasons: Sequence[str] = (),
) -> str:
    """An asset's popup: code, its map status as a chip and the reasons in words, name,
    kind, condition, next due date, open hazards and links. White, whatever the status."""
    rows = [
        (_("Name"), asset.name),
        (_("Kind"), kind_label(asset.kind)),
        (_("Condition"), STATUS_LABELS.get(asset.status, asset.status)),
        (_("Next due"), next_due.isoformat() if next_due else "—"),
        (_("Open hazards"), str(open_hazards)),
    ]
    if asset.address:
        rows.insert(1, (_("Address"), asset.address))
    body = Markup("").join(
        Markup("<tr><th>{}</th><td>{}</td></tr>").format(label, value) for label, value in rows
    )
    links = [
        Markup('<a href="{}">{}</a>').format(
            url_for("assets.asset_detail", code=asset.code), _("Asset page")
        )
    ]
    if logging_link:
        links.append(
            Markup('<a href="{}">{}</a>').format(
                url_for("inspections.log_for_asset", code=asset.code), _("Log inspection")
            )
        )
    reason = Markup(" · ").join(
        Markup('<span class="sar-reason">{}</span>').format(word) for word in reasons
    )
    return str(
        Markup(
            '<div class="sar-popup" data-code="{}" data-status="{}">'
            '<span class="sar-popup-title">{}</span>'
            '<p class="sar-popup-status">{} {}</p><table>{}</table>'
            '<p class="sar-popup-links">{}</p></div>'
        ).format(
            asset.code,
            map_status,
            asset.code,
            status_chip(map_status),
            reason,
            body,
            Markup(" · ").join(links),
        )
    )


# --- Whole maps ------------------------------------------------------------------------------


class MapParts(NamedTuple):
    """A rendered folium map in the three parts of folium's Flask guide."""

    header: Markup
    html: Markup
    script: Markup
    nonce: str  # the response's CSP nonce, for the element that holds ``script``

    def embed(self) -> Markup:
        """Everything in one piece for a page's body (stylesheet links are body-ok)."""
        opening = Markup('<script nonce="{}">').format(self.nonce)
        return self.header + self.html + opening + self.script + Markup("</script>")


def render_parts(folium_map: folium.Map) -> MapParts:
    root = folium_map.get_root()
    root.render()
    # folium's output: our names and constants, and data that went through script_json
    # (every user value in it escaped by asset_popup_html / HazardPopups / grid_features).
    return MapParts(
        header=Markup(root.header.render()),  # noqa: S704
        html=Markup(root.html.render()),  # noqa: S704
        script=Markup(root.script.render()),  # noqa: S704
        nonce=csp_nonce(),
    )


# Before a district has grids or assets its maps show the whole country (latitude, longitude).
COUNTRY_VIEW = ((35.0, 104.0), 4)
DISTRICT_ZOOM = 13
NEAR_ZOOM = 15  # from here in, the second-level grids are labelled instead of the first


@dataclass
class DistrictMapData:
    """What the district map page embeds, gathered by the view: no asset, no hazard (the
    view's are fetched), so its size does not grow with the registry. The grids are embedded
    (``grids``, each once) up to ``MAP_GRID_EMBED_LIMIT``; past it ``grids`` is empty, the
    view's grids are fetched (``grids_fetched``) and the map opens on ``extent``, the WGS-84
    (west, south, east, north) of every grid and of the first-level ones."""

    kinds: list[str]
    filters: dict[str, Any]
    grids: list[Grid]
    overdue_by_grid: dict[int, int]
    setting: str
    grids_fetched: bool = False
    extent: tuple[float, float, float, float] | None = None
    first_level_extent: tuple[float, float, float, float] | None = None
    projector: Projector = field(init=False)

    def __post_init__(self) -> None:
        self.projector = Projector(self.setting)


def grid_bounds(grids: Sequence[Grid], projector: Projector) -> list[list[float]] | None:
    if not grids:
        return None
    shapes = [projector.geometry(to_shape(grid.boundary)) for grid in grids]
    min_lon = min(shape.bounds[0] for shape in shapes)
    min_lat = min(shape.bounds[1] for shape in shapes)
    max_lon = max(shape.bounds[2] for shape in shapes)
    max_lat = max(shape.bounds[3] for shape in shapes)
    return [[min_lat, min_lon], [max_lat, max_lon]]


def extent_bounds(
    extent: tuple[float, float, float, float] | None, projector: Projector
) -> list[list[float]] | None:
    """``grid_bounds`` from a WGS-84 extent (west, south, east, north)."""
    if extent is None:
        return None
    west, south, east, north = extent
    west, south = projector.point(west, south)
    east, north = projector.point(east, north)
    return [[south, west], [north, east]]


def extent_view(
    extent: tuple[float, float, float, float] | None,
) -> tuple[tuple[float, float], int]:
    """``district_view`` from a WGS-84 extent (west, south, east, north)."""
    if extent is None:
        return COUNTRY_VIEW
    west, south, east, north = extent
    return ((south + north) / 2, (west + east) / 2), DISTRICT_ZOOM


def district_map(data: DistrictMapData, height: str = "70vh") -> MapParts:
    """The district map: a layer per asset kind (clustered) and per hazard severity, filled by
    the view's fetches (``ViewportControl``), both grid levels' boundaries and the overdue
    choropleth, with a layer control."""
    projector = data.projector
    if data.grids_fetched:
        (lat, lon), zoom = extent_view(data.first_level_extent or data.extent)
        bounds = extent_bounds(data.extent, projector)
        level1_data: Any = None  # filled by SAR.gridView
        level2_data: Any = None
    else:
        (lat, lon), zoom = district_view(data.grids)
        bounds = grid_bounds(data.grids, projector)
        level1 = [grid for grid in data.grids if grid.level == 1]
        level2 = [grid for grid in data.grids if grid.level == 2]
        level1_data = grid_features(level1, projector, None)
        level2_data = {"shared": "grids:2"}
    lon, lat = projector.point(lon, lat)
    folium_map = DistrictMap(
        data.setting, location=(lat, lon), zoom_start=zoom, height=height, prefer_canvas=True
    )
    if not data.grids_fetched:
        folium_map.add_child(
            SharedData("grids:2", grid_features(level2, projector, data.overdue_by_grid))
        )
    folium_map.add_child(
        DataLayer(
            "gridLayer",
            "choropleth",
            _("Overdue inspections per grid"),
            level2_data,
            {"choropleth": True},
            show=False,
        )
    )
    folium_map.add_child(
        DataLayer(
            "gridLayer",
            "grids:2",
            _("Second-level grids"),
            level2_data,
            {"weight": 1, "dashArray": "4 3", "labelLevel": 2, "nearZoom": NEAR_ZOOM},
        )
    )
    folium_map.add_child(
        DataLayer(
            "gridLayer",
            "grids:1",
            _("First-level grids"),
            level1_data,
            {"weight": 3, "labelLevel": 1, "nearZoom": NEAR_ZOOM},
        )
    )
    for layer in hazard_layers():
        folium_map.add_child(layer)
    for kind in data.kinds:
        folium_map.add_child(asset_layer(empty_assets(kind)))
    folium_map.add_child(folium.LayerControl(collapsed=False))  # folded on phones: map.js
    folium_map.add_child(LocateMe(gcj02=projector.shift, status_id="locate-status"))
    folium_map.add_child(ViewportControl(data.kinds, data.filters, projector.shift))
    if data.grids_fetched:
        folium_map.add_child(GridViewControl(data.filters, projector.shift))
    if bounds:
        fit = folium.map.FitBounds(bounds, padding=(20, 20), max_zoom=17)
        # The first view, not an animated zoom: for its quarter second Leaflet ignores other
        # moves, such as the locate-me button's centring on a position found meanwhile.
        fit.options["animate"] = False
        folium_map.add_child(fit)
    return render_parts(folium_map)


# --- Small maps for other pages -------------------------------------------------------------


def _small_map(longitude: float, latitude: float, height: str) -> tuple[DistrictMap, Projector]:
    setting = tile_setting()
    projector = Projector(setting)
    lon, lat = projector.point(longitude, latitude)
    folium_map = DistrictMap(setting, location=(lat, lon), zoom_start=17, height=height)
    return folium_map, projector


def point_map(
    longitude: float,
    latitude: float,
    neighbours: Sequence[tuple[Asset, str]] = (),
    height: str = "240px",
) -> Markup:
    """A small map of one point (WGS-84) and its neighbouring assets (asset, map status), to
    embed in a page. Neighbour popups are embedded (escaped): there are only a few."""
    folium_map, projector = _small_map(longitude, latitude, height)
    lon, lat = projector.point(longitude, latitude)
    folium_map.add_child(
        DataLayer("pointLayer", "point", _("This point"), {"rows": [[lat, lon]]}, {})
    )
    by_kind: dict[str, list[tuple[Asset, str]]] = {}
    for asset, status in neighbours:
        by_kind.setdefault(asset.kind, []).append((asset, status))
    status_index = {status: index for index, status in enumerate(MAP_STATUSES)}
    for kind, items in by_kind.items():
        points = [to_shape(asset.location) for asset, _status in items]
        lons, lats = projector.arrays(
            np.array([point.x for point in points]), np.array([point.y for point in points])
        )
        drawn = DrawnAssets(
            kind=kind,
            latitudes=lats,
            longitudes=lons,
            codes=[asset.code for asset, _status in items],
            statuses=np.array([status_index[status] for _asset, status in items]),
            popups=[
                str(
                    Markup('<a href="{}">{}</a> {}').format(
                        url_for("assets.asset_detail", code=asset.code), asset.code, asset.name
                    )
                )
                for asset, _status in items
            ],
        )
        folium_map.add_child(asset_layer(drawn, cluster=False))
    return render_parts(folium_map).embed()


def neighbourhood_map(longitude: float, latitude: float, user, height: str = "240px") -> Markup:
    """``point_map`` of a point with the assets around it that ``user`` may see."""
    neighbours = db.session.execute(
        neighbour_assets_query(db.session.connection(), longitude, latitude, user)
    ).all()
    return point_map(longitude, latitude, [tuple(row) for row in neighbours], height=height)


def point_picker_map(
    longitude: float | None,
    latitude: float | None,
    longitude_input: str = "longitude",
    latitude_input: str = "latitude",
    height: str = "300px",
) -> Markup:
    """A small map for a form: clicking it writes the WGS-84 point (back-shifted from
    GCJ-02 over Gaode tiles) into the inputs with these ids, and the marker follows the
    inputs when they are typed into. Starts at the given point, or the district."""
    if longitude is None or latitude is None:
        grids = db.session.scalars(select(Grid).where(Grid.level == 1)).all()
        (lat, lon), zoom = district_view(grids)
        folium_map, projector = _small_map(lon, lat, height)
        folium_map.options["zoom"] = zoom
    else:
        folium_map, projector = _small_map(longitude, latitude, height)
    folium_map.add_child(
        DataLayer(
            "pickerLayer",
            "picker",
            _("Picked point"),
            {},
            {
                "longitudeInput": longitude_input,
                "latitudeInput": latitude_input,
                "gcj02": projector.shift,
            },
        )
    )
    return render_parts(folium_map).embed()


def district_view(grids: Sequence[Grid]) -> tuple[tuple[float, float], int]:
    """Where a map of the district opens: the middle of its first-level grids (whatever
    district was imported), or the whole country before it has any."""
    shapes = [to_shape(grid.boundary) for grid in grids if grid.level == 1]
    if not shapes:
        return COUNTRY_VIEW
    min_lon = min(shape.bounds[0] for shape in shapes)
    min_lat = min(shape.bounds[1] for shape in shapes)
    max_lon = max(shape.bounds[2] for shape in shapes)
    max_lat = max(shape.bounds[3] for shape in shapes)
    return ((min_lat + max_lat) / 2, (min_lon + max_lon) / 2), DISTRICT_ZOOM
