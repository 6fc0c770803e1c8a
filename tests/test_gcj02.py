"""WGS-84 → GCJ-02 and back, against published reference values.

The reference points are the test vectors of the widely used eviltransform implementations
(googollee/eviltransform, go/transform_test.go; the same in its C#, Ruby and Haskell ports):
(WGS-84 latitude, longitude) → (GCJ-02 latitude, longitude).
"""

import numpy as np
import pytest

from core.spatial import distance_m
from maps.coords import gcj02_to_wgs84, out_of_china, wgs84_to_gcj02, wgs84_to_gcj02_arrays

REFERENCE = [
    ((31.1774276, 121.5272106), (31.17530398364597, 121.531541859215)),  # Shanghai
    ((22.543847, 113.912316), (22.540796131694766, 113.9171764808363)),  # Shenzhen
    ((39.911954, 116.377817), (39.91334545536069, 116.38404722455657)),  # Beijing
]


@pytest.mark.parametrize(("wgs", "gcj"), REFERENCE)
def test_forward_matches_published_values(wgs, gcj):
    longitude, latitude = wgs84_to_gcj02(wgs[1], wgs[0])
    assert latitude == pytest.approx(gcj[0], abs=1e-9)
    assert longitude == pytest.approx(gcj[1], abs=1e-9)


@pytest.mark.parametrize(("wgs", "gcj"), REFERENCE)
def test_inverse_recovers_published_wgs84_within_2_m(wgs, gcj):
    longitude, latitude = gcj02_to_wgs84(gcj[1], gcj[0])
    assert distance_m(longitude, latitude, wgs[1], wgs[0]) < 2.0
    assert distance_m(longitude, latitude, wgs[1], wgs[0]) < 0.01  # in fact: millimetres


def test_round_trip_over_the_district_within_2_m():
    """A grid of points over Xingang (Weifang): there and back lands within 2 m, and the
    shift itself is the 300–600 m that puts a marker on the wrong street."""
    for longitude in np.linspace(119.05, 119.35, 7):
        for latitude in np.linspace(36.65, 36.85, 7):
            gcj = wgs84_to_gcj02(longitude, latitude)
            assert 300 < distance_m(longitude, latitude, *gcj) < 600
            back = gcj02_to_wgs84(*gcj)
            assert distance_m(longitude, latitude, *back) < 2.0


def test_array_transform_equals_the_scalar_one():
    longitudes = np.array([121.5272106, 113.912316, 116.377817, 119.2, 2.35])
    latitudes = np.array([31.1774276, 22.543847, 39.911954, 36.73, 48.85])
    shifted_lon, shifted_lat = wgs84_to_gcj02_arrays(longitudes, latitudes)
    for index in range(len(longitudes)):
        expected = wgs84_to_gcj02(longitudes[index], latitudes[index])
        assert shifted_lon[index] == pytest.approx(expected[0], abs=1e-12)
        assert shifted_lat[index] == pytest.approx(expected[1], abs=1e-12)


def test_points_outside_china_are_not_shifted():
    assert out_of_china(2.35, 48.85)
    assert wgs84_to_gcj02(2.35, 48.85) == (2.35, 48.85)
    assert gcj02_to_wgs84(-104.9903, 39.7392) == (-104.9903, 39.7392)
    assert not out_of_china(119.2, 36.73)
