"""Line protocol for what the backend stores.

Measurements: ``reading`` (tags station, kind, owner; one float field per parameter, an
integer ``<parameter>_status`` when the instrument was not measuring, a boolean
``<parameter>_status_missing`` when no status was sent, and a string ``<parameter>_unit``, the
unit it arrived in, when the value was converted to the registry's unit), ``rejected`` (the
dead-letter record of refused input) and ``alert`` (alert transitions, for charts).
Readings are serialised by hand (≈3 µs instead of ≈14 µs per point through
``influxdb_client.Point``): station ids and parameter keys are restricted by the registry to
characters that need no escaping. Rejections and alert records too, escaped as ``Point``
escapes (their text is whatever was sent): no client library on the write path.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from ioc.messages import Alert, Reading, Rejection
from ioc.registry import StationRegistry


class ReadingSerializer:
    def __init__(self, registry: StationRegistry) -> None:
        self._registry = registry
        self._prefix: dict[str, str] = {}
        self.follow_registry()

    def follow_registry(self) -> None:
        """Tags of the stations as the registry has them now (after a change)."""
        self._prefix = {
            s.id: f"reading,kind={s.kind},owner={s.owner},station={s.id} " for s in self._registry
        }

    def lines(self, readings: Iterable[Reading]) -> list[str]:
        prefix = self._prefix
        out = []
        for r in readings:
            fields = ",".join([f"{k}={v!r}" for k, v in r.values.items()])
            if r.status:
                fields += "," + ",".join([f"{k}_status={int(s)}i" for k, s in r.status.items()])
            if r.status_missing:
                fields += "," + ",".join([f"{k}_status_missing=true" for k in r.status_missing])
            if r.sent_units:
                fields += "," + ",".join(
                    [f'{k}_unit="{_string(u)}"' for k, u in r.sent_units.items()]
                )
            out.append(f"{prefix[r.station_id]}{fields} {r.ts_ms}")
        return out


# Lone surrogates (JSON may carry "\udcff") cannot be written as UTF-8: they become U+FFFD.
_SURROGATES = dict.fromkeys(range(0xD800, 0xE000), "\ufffd")
_TAG_ESCAPES = str.maketrans(
    {",": r"\,", "=": r"\=", " ": r"\ ", "\n": r"\n", "\t": r"\t", "\r": r"\r"} | _SURROGATES
)
_STRING_ESCAPES = str.maketrans({'"': r"\"", "\\": r"\\"} | _SURROGATES)


def rejection_line(rejection: Rejection, ts_ms: int, tagged: bool = True) -> str:
    """The dead-letter record of ``rejection`` at ``ts_ms`` (see ingest.rejections for why it
    may differ from the arrival time and when the station is not ``tagged``). By hand, escaped
    as ``Point`` escapes: a flood of refusals costs about what accepted readings cost."""
    station = rejection.station_id or ""
    tag = f",station={_tag(station)}" if station and tagged else ""
    sent = f'sent_station="{_string(station)}",' if station and not tagged else ""
    return (
        f"rejected,reason={rejection.reason.value},source={_tag(rejection.source)}{tag} "
        f'detail="{_string(rejection.detail)}",'
        f'parameter="{_string(rejection.parameter or "")}",'
        f'{sent}payload="{_string(rejection.payload)}" {ts_ms}'
    )


def _string(value: str) -> str:
    if value.isascii():  # the common case, ≈5 times faster than translate
        return value.replace("\\", "\\\\").replace('"', '\\"')
    return value.translate(_STRING_ESCAPES)


def _tag(value: str) -> str:
    escaped = value.translate(_TAG_ESCAPES)
    return escaped + " " if escaped.endswith("\\") else escaped  # a trailing \ must not escape


def alert_line(event: str, alert: Alert, ts_ms: int) -> str:
    """An alert transition, for charts. A value or limit that is not finite is left out, as
    InfluxDB cannot store it."""
    numbers = "".join(
        f",{name}={str(number).removesuffix('.0')}"
        for name, number in (("limit", float(alert.limit)), ("value", float(alert.value)))
        if math.isfinite(number)
    )
    return (
        f"alert,event={_tag(event)},rule={_tag(alert.rule_id)},"
        f"severity={alert.severity.value},station={_tag(alert.station_id)} "
        f'alert_id="{_string(alert.id)}"{numbers} {ts_ms}'
    )
