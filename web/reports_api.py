"""The regulator's monthly reports (web/monthly_report.py) and their printable page::

    GET /api/v1/reports/monthly?month=YYYY-MM[&enterprise=ID][&format=json|csv|xlsx][&lang=vi|en]
    GET /api/v1/portal/reports/monthly?month=YYYY-MM[&enterprise=ID][&format=...][&lang=...]
    GET /reports/monthly        the printable page (officers)
    GET /portal/report          the same page, of the enterprise's own report
    GET /api/v1/reports/daily?day=YYYY-MM-DD[&format=json|csv|xlsx][&lang=vi|en]
    GET /reports/daily          its printable page (officers)

The first is the officers' (capability ``configure``: officers and admins): the province
(every station) or one enterprise. Not ``read``: that would give every viewer account — the
wall displays and kiosks — each enterprise's record of failures, which is the regulator's
business, not the wall's. The second is the enterprise portal's (``portal``): an enterprise
user gets its own enterprise's report (asking for another is a 403, audited), an admin the
one of ``?enterprise=`` (none: the province).

``format`` is json (default), csv or xlsx (web/report_files.py; ``lang`` names their
headings, Vietnamese by default). Files are answered as attachments named after the month and
the enterprise. InfluxDB unreachable or failing: 503.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Literal

from aiohttp import web
from pydantic import Field

from ioc import appkeys
from ioc.clock import LOCAL_TZ, now_ms
from ioc.errors import StoreError
from web.api import ApiRoutes, Query, error_answer, respond
from web.daily_report import DAY_PATTERN, DailyReport, build_daily_report, yesterday
from web.daily_report_files import DAILY_RENDERERS, file_stem
from web.monthly_report import MONTH_PATTERN, MonthlyReport, build_report
from web.portal_api import enterprise_param
from web.report_files import CSV_MEDIA, RENDERERS, XLSX_MEDIA
from web.routes import STATIC_DIR
from web.station_page import add_station_page_routes

api = ApiRoutes()
REPORT_PAGE = STATIC_DIR / "report.html"
DAILY_PAGE = STATIC_DIR / "daily-report.html"
FILE_MEDIA = {
    CSV_MEDIA: {"type": "string", "contentMediaType": CSV_MEDIA},
    XLSX_MEDIA: {"type": "string", "contentMediaType": XLSX_MEDIA},
}


class ReportQuery(Query):
    month: str | None = Field(
        None, pattern=MONTH_PATTERN, description="YYYY-MM, a local month; default this month."
    )
    enterprise: str | None = Field(None, description="One enterprise (none: the province).")
    format: Literal["json", "csv", "xlsx"] = "json"
    lang: Literal["vi", "en"] = Field("vi", description="Headings of the CSV and XLSX.")


def add_report_routes(app: web.Application) -> None:
    api.add_to(app)
    add_station_page_routes(app)  # the station page: charts, AQI, alerts, CSV of a range
    app.router.add_get("/reports/monthly", report_page)
    app.router.add_get("/portal/report", report_page)
    app.router.add_get("/reports/daily", daily_page)


async def report_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(REPORT_PAGE)


async def daily_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(DAILY_PAGE)


class DailyReportQuery(Query):
    day: str | None = Field(
        None,
        pattern=DAY_PATTERN,
        description="YYYY-MM-DD, a local day (Asia/Ho_Chi_Minh); default yesterday.",
    )
    format: Literal["json", "csv", "xlsx"] = "json"
    lang: Literal["vi", "en"] = Field("vi", description="Headings of the CSV and XLSX.")


@api.get(
    "/api/v1/reports/daily",
    tag="reports",
    errors=(503,),
    answer=DailyReport,
    answer_media=FILE_MEDIA,
)
async def daily_report(request: web.Request, query: DailyReportQuery) -> web.StreamResponse:
    """Daily report of the province

    Per station and local day (Asia/Ho_Chi_Minh): the daily VN_AQI and the hour of the worst
    hourly AQI, the exceedances of limit rules per parameter, the forest-fire danger of the
    day (Nesterov level, FWI), and the camera incidents (alerts of camera rules opened that
    day). As JSON, CSV or XLSX; the service also writes yesterday's files once a day."""
    now = now_ms()
    try:
        day = query.day or yesterday(now)
        datetime.strptime(day, "%Y-%m-%d")
    except ValueError:
        raise error_answer(web.HTTPBadRequest, f"`day` {query.day!r} is not a date") from None
    app = request.app
    rules = app[appkeys.RULES]
    try:
        report = await build_daily_report(
            day=day,
            registry=app[appkeys.REGISTRY],
            store=app[appkeys.STORE],
            alerts=app[appkeys.ALERTS],
            rules=rules,
            cameras=app[appkeys.CONFIG].cameras.cameras,
            now_ms=now,
        )
    except StoreError as exc:
        raise error_answer(
            web.HTTPServiceUnavailable,
            "database unavailable: the report cannot be computed now",
            detail=str(exc),
        ) from exc
    if query.format == "json":
        return respond(report)
    render = DAILY_RENDERERS[query.format]
    body = await asyncio.to_thread(render, report, query.lang)
    return web.Response(
        body=body,
        content_type=CSV_MEDIA if query.format == "csv" else XLSX_MEDIA,
        charset="utf-8" if query.format == "csv" else None,
        headers={
            "Content-Disposition": f'attachment; filename="{file_stem(day, query.lang)}.'
            f'{query.format}"'
        },
    )


@api.get(
    "/api/v1/reports/monthly",
    tag="reports",
    errors=(503,),
    answer=MonthlyReport,
    answer_media=FILE_MEDIA,
)
async def monthly_report(request: web.Request, query: ReportQuery) -> web.StreamResponse:
    """Monthly report of the province or of an enterprise

    Per station and local day (Asia/Ho_Chi_Minh): records expected from the station's
    interval, received, valid (status 00), calibrating (01), device error (02), missing
    intervals and their ranges, and whether it sends more often than registered; the
    exceedances of limit rules per parameter (start, duration, peak). As JSON, CSV or XLSX."""
    enterprise = query.enterprise or None
    if enterprise is not None and enterprise not in request.app[appkeys.REGISTRY].enterprises:
        raise error_answer(
            web.HTTPBadRequest, f"`enterprise` {enterprise!r} is not a known enterprise"
        )
    return await _answer(request, query, enterprise)


@api.get(
    "/api/v1/portal/reports/monthly",
    tag="portal",
    errors=(503,),
    answer=MonthlyReport,
    answer_media=FILE_MEDIA,
)
async def portal_monthly_report(request: web.Request, query: ReportQuery) -> web.StreamResponse:
    """The enterprise's own monthly report

    The report of `GET /api/v1/reports/monthly` for the caller's enterprise (asking for another
    `enterprise` is a 403, audited); an admin names the enterprise (none: the province)."""
    return await _answer(request, query, enterprise_param(request, query.enterprise))


async def _answer(
    request: web.Request, query: ReportQuery, enterprise: str | None
) -> web.StreamResponse:
    now = now_ms()
    month = query.month or _this_month(now)
    app = request.app
    rules = app[appkeys.RULES]
    try:
        report = await build_report(
            month=month,
            enterprise=enterprise,
            registry=app[appkeys.REGISTRY],
            store=app[appkeys.STORE],
            alerts=app[appkeys.ALERTS],
            rules=rules,
            now_ms=now,
        )
    except StoreError as exc:
        raise error_answer(
            web.HTTPServiceUnavailable,
            "database unavailable: the report cannot be computed now",
            detail=str(exc),
        ) from exc
    if query.format == "json":
        return respond(report)
    media, render = RENDERERS[query.format]
    body = await asyncio.to_thread(render, report, query.lang)
    name = f"{'bao-cao' if query.lang == 'vi' else 'report'}-{month}-{enterprise or 'province'}"
    return web.Response(
        body=body,
        content_type=media,
        charset="utf-8" if query.format == "csv" else None,
        headers={"Content-Disposition": f'attachment; filename="{name}.{query.format}"'},
    )


def _this_month(now: int) -> str:
    return datetime.fromtimestamp(now / 1000, LOCAL_TZ).strftime("%Y-%m")
