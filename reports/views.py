"""Report pages for staff: the SLA report with its charts, and the same figures as CSV."""

from flask import Blueprint, Response, render_template, request, url_for
from flask_login import current_user

from workflow import models, service
from workflow.auth import staff_required
from workflow.states import ISSUE_TYPES, Actor

from . import charts, queries

bp = Blueprint("reports", __name__, url_prefix="/reports")


def _report() -> dict:
    """The report the query string asks for (BadReportRequest when it cannot be made)."""
    args = request.args
    return queries.report_for(args.get("from"), args.get("to"), args.get("group_by"),
                              models.utcnow())


def _page(status: int = 200, error: str | None = None, report: dict | None = None):
    values = {"from": request.args.get("from", ""), "to": request.args.get("to", ""),
              "group_by": request.args.get("group_by", queries.DEFAULT_GROUP_BY)}
    if report is not None:
        values = {"from": report["from"].isoformat(), "to": report["to"].isoformat(),
                  "group_by": report["group_by"]}
    return render_template(
        "reports/sla.html", report=report, error=error, values=values,
        group_by_choices=queries.GROUP_BY, issue_types=ISSUE_TYPES,
        charts=charts.report_charts(report) if report else None,
        csv_urls={table: url_for("reports.sla_csv", table=table, **values)
                  for table in queries.CSV_TABLES} if report else None,
        max_days=queries.MAX_DAYS,
    ), status


@bp.errorhandler(queries.BadReportRequest)
def _bad_request(err: queries.BadReportRequest):
    return _page(400, str(err))


@bp.get("/sla")
@staff_required()
def sla():
    """The SLA report: a date range and grouping, the figures, the charts."""
    return _page(report=_report())


@bp.get("/sla.csv")
@staff_required()
def sla_csv():
    """One table of the SLA report (groups and totals, backlog, throughput) as CSV."""
    table = request.args.get("table") or "groups"
    if table not in queries.CSV_TABLES:
        raise queries.BadReportRequest(
            "table", "invalid_table",
            f"'table' must be one of: {', '.join(queries.CSV_TABLES)}.")
    report = _report()
    service.audit.record_now("export.sla_csv", actor=Actor.AGENT, agent=current_user,
                             detail=queries.export_facts(report, "csv", via="console",
                                                         table=table))
    response = Response(queries.report_csv(report, table), mimetype="text/csv")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{queries.csv_filename(report, table)}"')
    return response
