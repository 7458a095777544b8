"""The demo province's station network, written as a registry file.

``python -m simulators.province config/stations.yaml`` regenerates ``config/stations.yaml``:
100 ambient-air stations, 10 forest weather stations, 10 enterprise stations (5 stack
emission, 5 wastewater) and the groundwater network of the seeds (REFERENCE §1, §7): the
production wells of 18 enterprises, each with its abstraction licence, and 3 state monitoring
wells, around the districts of a Central Highlands province (coordinates near Lâm Đồng).
Deterministic for a given seed, so the committed file is reproducible.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

DISTRICTS = [  # (name, lat, lon)
    ("Đà Lạt", 11.940, 108.458),
    ("Bảo Lộc", 11.548, 107.807),
    ("Đức Trọng", 11.735, 108.373),
    ("Di Linh", 11.580, 108.070),
    ("Lâm Hà", 11.820, 108.200),
    ("Đơn Dương", 11.750, 108.540),
    ("Lạc Dương", 12.080, 108.430),
    ("Bảo Lâm", 11.680, 107.720),
    ("Đạ Huoai", 11.440, 107.640),
    ("Đạ Tẻh", 11.510, 107.500),
    ("Cát Tiên", 11.660, 107.360),
    ("Đam Rông", 12.050, 108.170),
]
FOREST_SITES = [
    "Bidoup",
    "Langbiang",
    "Núi Voi",
    "Tà Nung",
    "Đạ Sar",
    "Lộc Bắc",
    "Gia Bắc",
    "Đạ Nhim",
    "Phi Liêng",
    "Nam Ban",
]

P = dict  # short alias for parameter entries
PARAMETER_SETS: dict[str, dict[str, dict[str, Any]]] = {
    "air": {
        "pm25": P(unit="ug/m3", min=0, max=1000, label_vi="Bụi PM2.5", label_en="PM2.5"),
        "pm10": P(unit="ug/m3", min=0, max=2000, label_vi="Bụi PM10", label_en="PM10"),
        "so2": P(unit="ug/m3", min=0, max=5000, label_vi="SO2", label_en="SO2"),
        "no2": P(unit="ug/m3", min=0, max=5000, label_vi="NO2", label_en="NO2"),
        "co": P(unit="ug/m3", min=0, max=200000, label_vi="CO", label_en="CO"),
        "o3": P(unit="ug/m3", min=0, max=2000, label_vi="O3", label_en="O3"),
    },
    "weather": {
        "temp": P(unit="C", min=-10, max=55, label_vi="Nhiệt độ", label_en="Temperature"),
        "rh": P(unit="%", min=0, max=100, label_vi="Độ ẩm", label_en="Humidity"),
        "wind": P(unit="m/s", min=0, max=75, label_vi="Tốc độ gió", label_en="Wind speed"),
        "rain": P(unit="mm", min=0, max=300, label_vi="Lượng mưa", label_en="Rainfall"),
    },
    "stack": {
        "flow": P(unit="m3/h", min=0, max=2000000, label_vi="Lưu lượng", label_en="Flow"),
        "temp": P(
            unit="C",
            min=-10,
            max=600,
            label_vi="Nhiệt độ khí thải",
            label_en="Flue gas temperature",
        ),
        "o2": P(unit="%", min=0, max=25, label_vi="O2", label_en="O2"),
        "dust": P(unit="mg/Nm3", min=0, max=10000, label_vi="Bụi tổng", label_en="Total dust"),
        "so2": P(unit="mg/Nm3", min=0, max=10000, label_vi="SO2", label_en="SO2"),
        "nox": P(unit="mg/Nm3", min=0, max=10000, label_vi="NOx", label_en="NOx"),
        "co": P(unit="mg/Nm3", min=0, max=20000, label_vi="CO", label_en="CO"),
    },
    "wastewater": {
        "flow": P(unit="m3/h", min=0, max=50000, label_vi="Lưu lượng", label_en="Flow"),
        "temp": P(unit="C", min=0, max=80, label_vi="Nhiệt độ", label_en="Temperature"),
        "ph": P(unit="pH", min=0, max=14, label_vi="pH", label_en="pH"),
        "tss": P(unit="mg/L", min=0, max=5000, label_vi="TSS", label_en="TSS"),
        "cod": P(unit="mg/L", min=0, max=10000, label_vi="COD", label_en="COD"),
        "nh4": P(unit="mg/L", min=0, max=1000, label_vi="Amoni (N)", label_en="Ammonium (N)"),
        "bod5": P(unit="mg/L", min=0, max=5000, label_vi="BOD5", label_en="BOD5"),
        "tn": P(unit="mg/L", min=0, max=1000, label_vi="Tổng N", label_en="Total N"),
        "tp": P(unit="mg/L", min=0, max=500, label_vi="Tổng P", label_en="Total P"),
        "color": P(unit="Pt-Co", min=0, max=5000, label_vi="Độ màu", label_en="Colour"),
    },
    # Groundwater (REFERENCE §7): the temperature range is tighter than the loggers' 0-42 °C,
    # so that the faults seen in real data (0.00 °C, 83.39 °C) are refused as out of range.
    "groundwater": {
        "level": P(unit="m", min=0, max=100, label_vi="Mực nước (sâu)", label_en="Water level"),
        "flow": P(unit="m3/h", min=0, max=1000, label_vi="Lưu lượng", label_en="Flow"),
        "volume": P(
            unit="m3",
            min=0,
            max=1_000_000_000,
            label_vi="Tổng lượng khai thác",
            label_en="Total volume",
        ),
        "temp": P(unit="C", min=10, max=42, label_vi="Nhiệt độ nước", label_en="Temperature"),
        "ec": P(unit="uS/cm", min=0, max=20000, label_vi="Độ dẫn điện", label_en="EC"),
        "tds": P(unit="mg/L", min=0, max=15000, label_vi="TDS", label_en="TDS"),
    },
    "groundwater_monitoring": {
        "level": P(unit="m", min=0, max=100, label_vi="Mực nước (sâu)", label_en="Water level"),
        "temp": P(unit="C", min=10, max=42, label_vi="Nhiệt độ nước", label_en="Temperature"),
        "ec": P(unit="uS/cm", min=0, max=20000, label_vi="Độ dẫn điện", label_en="EC"),
    },
}
ENTERPRISES = [
    ("ENT-01", "Công ty CP Vật liệu Xây dựng Cao Nguyên"),
    ("ENT-02", "Công ty TNHH Chế biến Chè Bảo Lộc"),
    ("ENT-03", "Nhà máy Gạch Tuynel Đức Trọng"),
    ("ENT-04", "Công ty CP Chế biến Nông sản Lâm Hà"),
    ("ENT-05", "Công ty TNHH Dệt Nhuộm Lộc Sơn"),
    ("ENT-06", "Nhà máy Sữa Đơn Dương"),
    ("ENT-07", "Công ty CP Cấp nước Lâm Đồng"),
    ("ENT-08", "Công ty TNHH Nước khoáng Đạ Huoai"),
    ("ENT-09", "Nhà máy Bia Đà Lạt"),
    ("ENT-10", "Công ty CP Thủy sản Cát Tiên"),
    ("ENT-11", "Khu công nghiệp Lộc Sơn"),
    ("ENT-12", "Công ty TNHH Rau sạch Đơn Dương"),
    ("ENT-13", "Nhà máy Chế biến Cà phê Di Linh"),
    ("ENT-14", "Công ty CP Khoáng sản Bảo Lâm"),
    ("ENT-15", "Khách sạn Hồ Tuyền Lâm"),
    ("ENT-16", "Bệnh viện Đa khoa Đức Trọng"),
    ("ENT-17", "Công ty TNHH Hoa Lạc Dương"),
    ("ENT-18", "Trang trại Bò sữa Lâm Hà"),
]
STACK_AND_WASTEWATER_ENTERPRISES = 6  # the first ones
GROUNDWATER_ENTERPRISES = 18
STATE_MONITORING_WELLS = 3


def build(seed: int = 2026) -> dict[str, Any]:
    rng = random.Random(seed)

    def near(lat: float, lon: float, spread: float) -> tuple[float, float]:
        return round(lat + rng.gauss(0, spread), 5), round(lon + rng.gauss(0, spread), 5)

    stations: list[dict[str, Any]] = []
    per_district: dict[str, int] = {}  # numbered within the district: every name distinct
    for i in range(100):
        district, lat, lon = DISTRICTS[i % len(DISTRICTS)] if i >= 24 else DISTRICTS[i % 2]
        la, lo = near(lat, lon, 0.03 if i < 24 else 0.06)
        per_district[district] = per_district.get(district, 0) + 1
        stations.append(
            dict(
                id=f"AIR-{i + 1:03d}",
                name=f"QTKK {district} {per_district[district]}",
                kind="air",
                owner="state",
                lat=la,
                lon=lo,
                parameters="air",
                interval_s=300,
            )
        )
    for i, site in enumerate(FOREST_SITES):
        district, lat, lon = DISTRICTS[(i * 5) % len(DISTRICTS)]
        la, lo = near(lat, lon, 0.08)
        stations.append(
            dict(
                id=f"FWS-{i + 1:02d}",
                name=f"Khí tượng rừng {site}",
                kind="weather",
                owner="state",
                lat=la,
                lon=lo,
                parameters="weather",
                interval_s=300,
            )
        )
    for i in range(10):
        owner, _ = ENTERPRISES[i % STACK_AND_WASTEWATER_ENTERPRISES]
        kind = "stack" if i < 5 else "wastewater"
        district, lat, lon = DISTRICTS[(i * 3 + 1) % len(DISTRICTS)]
        la, lo = near(lat, lon, 0.04)
        label = "Ống khói" if kind == "stack" else "Nước thải"
        stations.append(
            dict(
                id=f"{owner}-{'STK' if kind == 'stack' else 'WW'}{i + 1:02d}",
                name=f"{label} {district} ({owner})",
                kind=kind,
                owner=owner,
                lat=la,
                lon=lo,
                parameters=kind,
                interval_s=300,
            )
        )
    stations += _wells(rng, near)
    return {
        "enterprises": [{"id": e, "name": n} for e, n in ENTERPRISES],
        "parameter_sets": PARAMETER_SETS,
        "stations": stations,
    }


def _wells(
    rng: random.Random, near: Callable[[float, float, float], tuple[float, float]]
) -> list[dict[str, Any]]:
    """1-3 licensed production wells per enterprise, then the state's monitoring wells."""
    wells: list[dict[str, Any]] = []
    for i, (owner, _) in enumerate(ENTERPRISES[:GROUNDWATER_ENTERPRISES]):
        district, lat, lon = DISTRICTS[(i * 7 + 2) % len(DISTRICTS)]
        for k in range(1 + i % 3):
            la, lo = near(lat, lon, 0.03)
            wells.append(
                dict(
                    id=f"{owner}-GW{k + 1:02d}",
                    name=f"Giếng khai thác {k + 1} {district} ({owner})",
                    kind="groundwater",
                    owner=owner,
                    lat=la,
                    lon=lo,
                    parameters="groundwater",
                    interval_s=3600,
                    licence=dict(
                        number=f"{i * 3 + k + 101}/GP-UBND",
                        permitted_m3_day=float(rng.choice([200, 300, 500, 800, 1200])),
                        max_level_m=float(rng.choice([20, 25, 30])),
                    ),
                )
            )
    for i in range(STATE_MONITORING_WELLS):
        district, lat, lon = DISTRICTS[i * 4 % len(DISTRICTS)]
        la, lo = near(lat, lon, 0.05)
        wells.append(
            dict(
                id=f"GWM-{i + 1:02d}",
                name=f"Giếng quan trắc nước dưới đất {district}",
                kind="groundwater",
                owner="state",
                lat=la,
                lon=lo,
                parameters="groundwater_monitoring",
                interval_s=3600,
            )
        )
    return wells


def main(argv: list[str]) -> int:
    target = Path(argv[0] if argv else "config/stations.yaml")
    header = (
        "# Station registry of the demo province (generated by "
        "`python -m simulators.province`).\n# Edit freely; see ioc/registry.py for the "
        "format.\n"
    )
    body = yaml.safe_dump(build(), allow_unicode=True, sort_keys=False, width=100)
    target.write_text(header + body, encoding="utf-8")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
