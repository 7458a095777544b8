"""The wall's basemap settings (``web.basemap``) and the Content-Security-Policy built from
them; the shipped outlines of the demo province."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from ioc.config import BasemapConfig, IocConfig
from simulators.outlines import contains, outlines
from web.access import CONTENT_SECURITY_POLICY, SECURITY_HEADERS, security_headers

OSM = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
WMTS = (
    "https://gis.example.gov.vn/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=basemap"
    "&STYLE=default&TILEMATRIXSET=GoogleMapsCompatible&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}"
    "&FORMAT=image/png"
)
CHECKOUT = Path(__file__).resolve().parents[2]


def test_by_default_there_is_no_tile_server_and_the_policy_is_unchanged() -> None:
    config = IocConfig.model_validate({})
    assert config.web.basemap.tile_url is None
    assert config.web.basemap.tile_origin() is None
    assert security_headers(None) is SECURITY_HEADERS
    assert "img-src 'self' data:;" in CONTENT_SECURITY_POLICY


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        (OSM, "https://tile.openstreetmap.org"),
        ("https://{s}.tile.example.org/{z}/{x}/{y}.png", "https://*.tile.example.org"),
        ("http://127.0.0.1:8090/tiles/{z}/{x}/{-y}.png", "http://127.0.0.1:8090"),
        (WMTS, "https://gis.example.gov.vn"),
    ],
)
def test_the_tile_servers_origin_joins_img_src(url: str, origin: str) -> None:
    config = IocConfig.model_validate({"web": {"basemap": {"tile_url": url}}})
    assert config.web.basemap.tile_origin() == origin
    policy = security_headers(origin)["Content-Security-Policy"]
    assert f"img-src 'self' data: {origin};" in policy
    assert "script-src 'self';" in policy and "connect-src 'self';" in policy  # only images
    assert security_headers(origin)["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize(
    "url",
    [
        "ftp://tiles.example.org/{z}/{x}/{y}.png",  # not http(s)
        "/tiles/{z}/{x}/{y}.png",  # no host
        "https://tiles.example.org/{z}/{x}.png",  # no {y}
        "https://tiles.example.org/{z}/{x}/{y}.png; script-src *",  # would widen the policy
        "https://tiles.example.org/{z}/{x}/{y}.png 'unsafe-inline'",
        "https://tiles{s}.example.org/{z}/{x}/{y}.png",  # {s} not a leading label
        "https://user@tiles.example.org/{z}/{x}/{y}.png",
    ],
)
def test_a_bad_tile_url_is_refused(url: str) -> None:
    with pytest.raises(ValidationError):
        BasemapConfig(tile_url=url)


def test_unknown_keys_and_reversed_zooms_are_refused() -> None:
    with pytest.raises(ValidationError):
        IocConfig.model_validate({"web": {"basemap": {"tile_url": OSM, "style": "x"}}})
    with pytest.raises(ValidationError):
        BasemapConfig(tile_url=OSM, min_zoom=12, max_zoom=10)


def test_the_shipped_outlines_are_the_generators_and_hold_the_demo_stations() -> None:
    shipped = json.loads((CHECKOUT / "config/outlines.geojson").read_text(encoding="utf-8"))
    assert shipped == json.loads(json.dumps(outlines()))  # `python -m simulators.outlines`
    levels = [f["properties"]["level"] for f in shipped["features"]]
    assert levels.count("province") == 1 and levels.count("district") == 12
    province = [tuple(p) for p in shipped["features"][0]["geometry"]["coordinates"][0]]
    registry = IocConfig.model_validate({}).registry
    stations = yaml.safe_load((CHECKOUT / registry).read_text(encoding="utf-8"))["stations"]
    assert all(contains(province, (s["lon"], s["lat"])) for s in stations)
