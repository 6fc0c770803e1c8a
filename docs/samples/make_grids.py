"""Write docs/samples/grids.gpkg: the sample district's grids as a district's GIS office
might hand them over.

Zhifu District of Yantai (烟台市芝罘区), 2 first-level and 4 second-level grids, in a
projected CRS: CGCS2000 / 3-degree Gauss-Kruger CM 120E (EPSG:4549), with Chinese field
names 编码/名称/级别/上级. Each rectangle's edges are densified in longitude/latitude before
projecting, so that projecting back gives the rectangles again (to well under a metre).

Run from the repository root: ``.venv/bin/python docs/samples/make_grids.py``. The output
is the same every time (GDAL's timestamps are fixed).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyogrio
import pyogrio.raw
import shapely
from pyproj import Transformer

TARGET = Path(__file__).with_name("grids.gpkg")
CRS = "EPSG:4549"
# Densified vertices every this many degrees (about 100 m), on a shared lattice so that
# neighbours and parents have the very same vertices along a shared edge.
STEP_DEGREES = 0.001

# code, name, level, parent, (west, south, east, north) in WGS-84 degrees
GRIDS = [
    ("ZF1", "芝罘西片区", 1, None, (121.36, 37.52, 121.40, 37.56)),
    ("ZF2", "芝罘东片区", 1, None, (121.40, 37.52, 121.44, 37.56)),
    ("ZF1-01", "西南网格", 2, "ZF1", (121.36, 37.52, 121.40, 37.54)),
    ("ZF1-02", "西北网格", 2, "ZF1", (121.36, 37.54, 121.40, 37.56)),
    ("ZF2-01", "东南网格", 2, "ZF2", (121.40, 37.52, 121.44, 37.54)),
    ("ZF2-02", "东北网格", 2, "ZF2", (121.40, 37.54, 121.44, 37.56)),
]


def lattice(start: float, stop: float) -> list[float]:
    """start, stop and the lattice values between them, rounded so shared edges agree."""
    first, last = round(start / STEP_DEGREES), round(stop / STEP_DEGREES)
    return [round(index * STEP_DEGREES, 6) for index in range(first, last + 1)]


def densified_rectangle(west: float, south: float, east: float, north: float) -> list:
    """The rectangle's ring (counter-clockwise from the south-west corner), densified."""
    xs, ys = lattice(west, east), lattice(south, north)
    ring = [(x, south) for x in xs]
    ring += [(east, y) for y in ys[1:]]
    ring += [(x, north) for x in reversed(xs[:-1])]
    ring += [(west, y) for y in reversed(ys[:-1])]
    return ring


def main() -> None:
    to_gauss_kruger = Transformer.from_crs("EPSG:4326", CRS, always_xy=True)
    geometries = []
    for *_attributes, bounds in GRIDS:
        ring = np.array(densified_rectangle(*bounds))
        xs, ys = to_gauss_kruger.transform(ring[:, 0], ring[:, 1])
        geometries.append(shapely.to_wkb(shapely.Polygon(np.column_stack([xs, ys]))))
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": "2026-01-01T00:00:00Z"})
    TARGET.unlink(missing_ok=True)
    pyogrio.raw.write(
        str(TARGET),
        np.array(geometries, dtype=object),
        [
            np.array([code for code, *_ in GRIDS], dtype=object),
            np.array([name for _code, name, *_ in GRIDS], dtype=object),
            np.array([level for _code, _name, level, *_ in GRIDS], dtype=np.int32),
            np.array([parent for *_, parent, _bounds in GRIDS], dtype=object),
        ],
        ["编码", "名称", "级别", "上级"],
        driver="GPKG",
        layer="grids",
        crs=CRS,
        geometry_type="Polygon",
    )
    print(f"wrote {TARGET}")


if __name__ == "__main__":
    main()
