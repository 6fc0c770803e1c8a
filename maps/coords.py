"""WGS-84 ↔ GCJ-02, the shifted datum that AutoNavi/Gaode tiles are drawn in.

The database keeps WGS-84; points are shifted only when a map is drawn over Gaode tiles.
The forward transform is the published one (the same constants and series as the widely
used reference implementations); the inverse has no closed form and is found by fixed-point
iteration to well under a millimetre. Points outside China's bounding box are not shifted.
"""

from __future__ import annotations

import math

import numpy as np

SEMI_MAJOR_AXIS = 6378245.0  # Krasovsky 1940
ECCENTRICITY_SQUARED = 0.00669342162296594323
INVERSE_TOLERANCE_DEG = 1e-9
INVERSE_MAX_STEPS = 30


def out_of_china(longitude: float, latitude: float) -> bool:
    return not (72.004 <= longitude <= 137.8347 and 0.8293 <= latitude <= 55.8271)


def _latitude_series(x, y, sin, sqrt, absolute):
    value = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt(absolute(x))
    value += (20.0 * sin(6.0 * x * math.pi) + 20.0 * sin(2.0 * x * math.pi)) * 2.0 / 3.0
    value += (20.0 * sin(y * math.pi) + 40.0 * sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    value += (160.0 * sin(y / 12.0 * math.pi) + 320.0 * sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return value


def _longitude_series(x, y, sin, sqrt, absolute):
    value = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt(absolute(x))
    value += (20.0 * sin(6.0 * x * math.pi) + 20.0 * sin(2.0 * x * math.pi)) * 2.0 / 3.0
    value += (20.0 * sin(x * math.pi) + 40.0 * sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    value += (150.0 * sin(x / 12.0 * math.pi) + 300.0 * sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return value


def _offset(longitude, latitude, sin, cos, sqrt, absolute):
    """(Δlongitude, Δlatitude) in degrees from WGS-84 to GCJ-02."""
    x, y = longitude - 105.0, latitude - 35.0
    d_lat = _latitude_series(x, y, sin, sqrt, absolute)
    d_lon = _longitude_series(x, y, sin, sqrt, absolute)
    rad_lat = latitude / 180.0 * math.pi
    magic = 1 - ECCENTRICITY_SQUARED * sin(rad_lat) ** 2
    sqrt_magic = sqrt(magic)
    d_lat = (d_lat * 180.0) / (
        (SEMI_MAJOR_AXIS * (1 - ECCENTRICITY_SQUARED)) / (magic * sqrt_magic) * math.pi
    )
    d_lon = (d_lon * 180.0) / (SEMI_MAJOR_AXIS / sqrt_magic * cos(rad_lat) * math.pi)
    return d_lon, d_lat


def wgs84_to_gcj02(longitude: float, latitude: float) -> tuple[float, float]:
    """(longitude, latitude) on GCJ-02 for a WGS-84 point (unchanged outside China)."""
    if out_of_china(longitude, latitude):
        return longitude, latitude
    d_lon, d_lat = _offset(longitude, latitude, math.sin, math.cos, math.sqrt, abs)
    return longitude + d_lon, latitude + d_lat


def gcj02_to_wgs84(longitude: float, latitude: float) -> tuple[float, float]:
    """The WGS-84 point whose GCJ-02 image is (longitude, latitude), by iteration."""
    if out_of_china(longitude, latitude):
        return longitude, latitude
    wgs_lon, wgs_lat = longitude, latitude
    for _step in range(INVERSE_MAX_STEPS):
        gcj_lon, gcj_lat = wgs84_to_gcj02(wgs_lon, wgs_lat)
        error_lon, error_lat = gcj_lon - longitude, gcj_lat - latitude
        wgs_lon, wgs_lat = wgs_lon - error_lon, wgs_lat - error_lat
        if max(abs(error_lon), abs(error_lat)) < INVERSE_TOLERANCE_DEG:
            break
    return wgs_lon, wgs_lat


def wgs84_to_gcj02_arrays(
    longitudes: np.ndarray, latitudes: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The forward transform over whole arrays (100k points in a few milliseconds)."""
    longitudes = np.asarray(longitudes, dtype=float)
    latitudes = np.asarray(latitudes, dtype=float)
    d_lon, d_lat = _offset(longitudes, latitudes, np.sin, np.cos, np.sqrt, np.abs)
    inside = (
        (longitudes >= 72.004)
        & (longitudes <= 137.8347)
        & (latitudes >= 0.8293)
        & (latitudes <= 55.8271)
    )
    return (
        np.where(inside, longitudes + d_lon, longitudes),
        np.where(inside, latitudes + d_lat, latitudes),
    )
