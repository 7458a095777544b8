"""The road network of the fleet simulator: lookups, limits and the provincial geography."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from simulators.fleet.episodes import band_of
from simulators.fleet.roads import LIMITS, ROUTES, VEHICLE_TYPES, Network, project, unproject

NET = Network()


@settings(max_examples=200, deadline=None)
@given(route=st.integers(0, len(ROUTES) - 1), fraction=st.floats(0.0, 1.0))
def test_bucket_lookup_agrees_with_a_binary_search(route: int, fraction: float) -> None:
    s = fraction * float(NET.length[route])
    (piece,) = NET.piece(np.array([route]), np.array([s]))
    expected = np.searchsorted(NET.cum, NET.base[route] + s, side="right") - 1
    assert piece == np.clip(expected, NET.first[route], NET.last[route])
    (x,), (y,), _ = NET.position(np.array([route]), np.array([s]))
    assert NET.distance_to_route(route, np.array([x]), np.array([y]))[0] < 1e-6


@given(st.floats(10.5, 13.0), st.floats(106.5, 109.5))
def test_projection_round_trips(lat: float, lon: float) -> None:
    la, lo = unproject(*project(lat, lon))
    assert abs(la - lat) < 1e-9 and abs(lo - lon) < 1e-9


@given(st.floats(0, 80))
def test_bands_are_upper_closed(excess: float) -> None:
    band = band_of(excess)
    if excess <= 5:
        assert band is None
    else:
        assert band == (
            "5-10"
            if excess <= 10
            else "10-20"
            if excess <= 20
            else "20-35"
            if excess <= 35
            else ">35"
        )


def test_limits_table_and_route_lengths() -> None:
    assert all(set(row) == set(VEHICLE_TYPES) for row in LIMITS.values())
    assert all(
        LIMITS["urban"][t] <= LIMITS["rural"][t] <= LIMITS["highway"][t] for t in VEHICLE_TYPES
    )
    km = {r.id: float(NET.length[i]) / 1000 for i, r in enumerate(ROUTES)}
    assert 110 < km["C01"] < 200  # Đà Lạt – Đạ Huoai along QL20 (straight legs: shorter)
    assert 20 < km["B01"] < 50  # Đà Lạt – Đức Trọng
    assert km["X01"] < 15 and km["X02"] < 10  # town streets
