"""The SLA report as people and programs get it: page, CSV, JSON API, command line, charts."""

import csv
import io
import json
import re

import pytest

from reports import charts, queries
from tests.conftest import sign_in
from tests.functional.test_api import assert_error, auth
from tests.integration import test_sla_reports as known

# A script written into the page (the console's own static scripts, by src, are fine).
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)")

# The known case histories and their clock, shared with the figures' own tests.
app_config, clock, desk, histories = known.app_config, known.clock, known.desk, known.histories

MARCH = "from=2024-03-01&to=2024-03-10"


@pytest.fixture
def staff(client, make_agent):
    """A signed-in agent (plain agents may read reports too) and their API token."""
    agent, token = make_agent("agent", email="sam@example.test", name="Sam")
    assert sign_in(client, "sam@example.test").status_code == 302
    return token


def page(client, query: str) -> tuple[int, str]:
    response = client.get(f"/reports/sla?{query}")
    return response.status_code, response.get_data(as_text=True)


def rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


# --- pages ---------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/reports/sla", f"/reports/sla.csv?{MARCH}"])
def test_reports_need_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 302 and "/agent/login" in response.location


def test_console_links_to_the_reports(client, staff):
    assert 'href="/reports/sla"' in client.get("/agent/").get_data(as_text=True)


def test_report_page_shows_tables_and_charts(client, staff, histories):
    status, html = page(client, f"{MARCH}&group_by=issue_type")
    assert status == 200
    # Throughput, backlog, first-response and resolution percentiles; no script anywhere.
    assert html.count("<svg") == 4 and not INLINE_SCRIPT.search(html)
    assert "I forgot my password" in html and "I lost my two-factor device" in html
    # First response within 2h: 3 met in time of 5 met and 1 past due.
    assert "50% <span class=\"muted\">(3 of 6)</span>" in html
    for table in queries.CSV_TABLES:
        assert (f'href="/reports/sla.csv?table={table}&amp;from=2024-03-01&amp;to=2024-03-10'
                '&amp;group_by=issue_type"') in html
    assert 'value="2024-03-01"' in html and 'value="2024-03-10"' in html


def test_report_page_defaults_to_the_last_30_days(client, staff, clock):
    status, html = page(client, "")
    assert status == 200
    assert 'id="from" value="2024-02-10"' in html and 'id="to" value="2024-03-10"' in html
    assert '<option value="issue_type" selected>' in html
    assert "No cases were filed in this range." in html


def test_stage_page(client, staff, histories):
    status, html = page(client, f"{MARCH}&group_by=stage")
    assert status == 200
    assert html.count("<svg") == 3
    assert "Breaches put down to it" in html
    assert "1 breached case spent no time in any of them yet" in html


def test_group_names_from_data_are_escaped(client, staff, histories, desk):
    status, html = page(client, f"{MARCH}&group_by=agent")
    assert status == 200
    assert not INLINE_SCRIPT.search(html)
    assert "Bob &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    svg = re.findall(r"<svg.*?</svg>", html, re.S)
    assert any("Bob &lt;script&gt;" in chart for chart in svg)


@pytest.mark.parametrize(("query", "message"), [
    ("from=2024-13-01&to=2024-03-10", "'from' is not a date that exists"),
    ("from=yesterday&to=2024-03-10", "'from' must be a date written YYYY-MM-DD"),
    ("from=2024-03-10&to=2024-03-01", "'from' must be on or before 'to'"),
    ("from=2022-01-01&to=2024-03-01", "at most 366 days"),
    ("from=2024-03-01&to=2024-03-10&group_by=%3Cb%3E", "'group_by' must be one of"),
    ("from=0001-01-01&to=9999-12-31", "at most 366 days"),
    ("to=0001-01-02", "outside the calendar"),
])
@pytest.mark.parametrize("path", ["/reports/sla", "/reports/sla.csv"])
def test_bad_parameters_are_a_clear_400(client, staff, path, query, message):
    response = client.get(f"{path}?{query}")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert message in html.replace("&#39;", "'")
    assert "<b>" not in html


# --- CSV -----------------------------------------------------------------------------------

def test_csv_download(client, staff, histories):
    response = client.get(f"/reports/sla.csv?{MARCH}&group_by=issue_type")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="sla-report_2024-03-01_2024-03-10_issue_type.csv"')
    text = response.get_data(as_text=True)
    assert text.splitlines()[0] == ",".join(queries.STANDARD_COLUMNS)
    found = {row["key"]: row for row in rows(text)}
    assert list(found) == ["forgot_password", "lost_2fa", "all"]
    assert (found["all"]["cases"], found["all"]["breaches"]) == ("6", "3")
    password = found["forgot_password"]
    assert (password["cases"], password["resolved"], password["breaches"]) == ("3", "3", "1")
    assert (password["first_response_p50_hours"], password["first_response_p90_hours"]) == (
        "1.0", "2.6")
    assert password["first_response_within_share"] == "0.6667"
    assert found["lost_2fa"]["resolution_within_share"] == "0.5"


def test_csv_by_stage_has_the_stage_figures(client, staff, histories):
    text = client.get(f"/reports/sla.csv?{MARCH}&group_by=stage").get_data(as_text=True)
    assert text.splitlines()[0] == ",".join(queries.STAGE_COLUMNS)
    found = {row["key"]: row for row in rows(text)}
    assert found["selfie_check"]["breaches_attributed"] == "1"
    assert found["escalated"]["mean_hours"] == "5.0"
    assert found["awaiting_user"]["p50_hours"] == "20.0"
    # Waiting for the user uses no SLA time, so no breach is put down to it.
    assert found["awaiting_user"]["breaches_attributed"] == "0"
    assert found["unattributed"]["breaches_attributed"] == "1"


def test_csv_backlog_and_throughput_tables(client, staff, histories):
    response = client.get(f"/reports/sla.csv?{MARCH}&table=throughput")
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="sla-report_2024-03-01_2024-03-10_issue_type_throughput.csv"')
    days = rows(response.get_data(as_text=True))
    assert len(days) == 10
    assert days[0] == {"day": "2024-03-01", "created": "1", "resolved": "2"}
    backlog = rows(client.get(f"/reports/sla.csv?{MARCH}&table=backlog_age")
                   .get_data(as_text=True))
    assert [(b["bucket"], b["cases"]) for b in backlog] == [
        ("<1d", "1"), ("1-3d", "1"), ("3-7d", "0"), ("7-14d", "0"), (">14d", "0")]
    bad = client.get(f"/reports/sla.csv?{MARCH}&table=everything")
    assert bad.status_code == 400
    assert "must be one of: groups, backlog_age, throughput" in bad.get_data(as_text=True)


def test_csv_quotes_names_and_defuses_formulas(client, staff, desk, make_agent):
    sly, _ = make_agent("agent", name='=HYPERLINK("http://x.test"), "Sly"')
    desk.file(desk.clock.now.replace(hour=1), steps=[(0, desk.assign(sly))])
    text = client.get(f"/reports/sla.csv?{MARCH}&group_by=agent").get_data(as_text=True)
    assert '"\'=HYPERLINK(""http://x.test""), ""Sly"""' in text
    row, totals = rows(text)
    assert row["label"] == "'" + sly.name and row["key"] == str(sly.id)
    assert totals["key"] == "all"


# --- API -----------------------------------------------------------------------------------

def test_api_report(client, staff, histories):
    response = client.get(f"/api/v1/reports/sla?{MARCH}&group_by=stage", headers=auth(staff))
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"from", "to", "group_by", "generated_at", "groups", "totals",
                         "unattributed_breaches", "backlog_age", "throughput", "deflection"}
    assert (body["from"], body["to"], body["group_by"]) == ("2024-03-01", "2024-03-10", "stage")
    assert body["generated_at"] == "2024-03-10T12:00:00+00:00"
    assert body["throughput"][0] == {"day": "2024-03-01", "created": 1, "resolved": 2}
    assert [g["key"] for g in body["groups"]] == ["id_check", "selfie_check", "escalated",
                                                  "awaiting_user"]
    assert set(body["groups"][0]) == set(queries.STAGE_COLUMNS)
    assert set(body["totals"]) == set(queries.STANDARD_COLUMNS)
    assert body["totals"]["breaches"] == 3 and body["unattributed_breaches"] == 1


def test_api_report_defaults(client, staff, clock):
    body = client.get("/api/v1/reports/sla", headers=auth(staff)).get_json()
    assert (body["from"], body["to"], body["group_by"]) == ("2024-02-10", "2024-03-10",
                                                            "issue_type")
    assert "unattributed_breaches" not in body and len(body["throughput"]) == 30


def test_api_report_needs_a_token(client):
    assert_error(client.get(f"/api/v1/reports/sla?{MARCH}"), 401, "unauthorized")
    assert_error(client.get(f"/api/v1/reports/sla?{MARCH}", headers=auth("nope")), 401,
                 "unauthorized")


@pytest.mark.parametrize(("query", "code", "field"), [
    ("from=2024-02-30&to=2024-03-01", "invalid_date", "from"),
    ("from=2024-03-01&to=03/10/2024", "invalid_date", "to"),
    ("from=2024-03-10&to=2024-03-01", "invalid_range", "from"),
    ("from=2020-01-01&to=2024-03-01", "range_too_long", "to"),
    ("group_by=team", "invalid_group_by", "group_by"),
    ("to=9999-12-31", "invalid_date", "to"),
])
def test_api_report_bad_parameters(client, staff, clock, query, code, field):
    assert_error(client.get(f"/api/v1/reports/sla?{query}", headers=auth(staff)), 400, code,
                 field)


def test_openapi_describes_the_report(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    operation = spec["paths"]["/reports/sla"]["get"]
    assert {p["name"] for p in operation["parameters"]} == {"from", "to", "group_by"}
    assert set(operation["responses"]) == {"200", "400", "401", "403", "500", "503"}
    assert "range_too_long" in operation["responses"]["400"]["description"]


# --- command line --------------------------------------------------------------------------

def test_cli_csv(runner, histories):
    result = runner.invoke(args=["sla-report", "--from", "2024-03-01", "--to", "2024-03-10",
                                 "--group-by", "priority"])
    assert result.exit_code == 0, result.output
    found = {row["key"]: row for row in rows(result.output)}
    assert (found["high"]["cases"], found["normal"]["cases"]) == ("3", "3")
    result = runner.invoke(args=["sla-report", "--from", "2024-03-01", "--to", "2024-03-10",
                                 "--table", "throughput"])
    assert result.exit_code == 0, result.output
    assert rows(result.output)[3] == {"day": "2024-03-04", "created": "1", "resolved": "2"}


def test_cli_json(runner, histories):
    result = runner.invoke(args=["sla-report", "--from", "2024-03-01", "--to", "2024-03-10",
                                 "--format", "json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["generated_at"] == "2024-03-10T12:00:00+00:00"
    assert body["totals"]["first_response_p90_hours"] == 4.8
    assert [g["key"] for g in body["groups"]] == ["forgot_password", "lost_2fa"]


@pytest.mark.parametrize(("args", "message"), [
    (["--from", "2024-03-32", "--to", "2024-03-10"], "Invalid value for '--from'"),
    (["--from", "2024-03-10", "--to", "2024-03-01"], "'from' must be on or before 'to'"),
    (["--from", "2020-03-01", "--to", "2024-03-01"], "at most 366 days"),
    (["--from", "2024-03-01", "--to", "2024-03-10", "--group-by", "team"],
     "Invalid value for '--group-by'"),
    (["--from", "2024-03-01", "--to", "2024-03-10", "--format", "xml"],
     "Invalid value for '--format'"),
    (["--to", "2024-03-10"], "Missing option '--from'"),
])
def test_cli_bad_input_exits_2(runner, clock, args, message):
    result = runner.invoke(args=["sla-report", *args])
    assert result.exit_code == 2
    assert message in result.output


# --- charts --------------------------------------------------------------------------------

def test_charts_escape_text():
    svg = charts.horizontal_bars([("<b>&amp;\"'</b>", (1.0, None))], ("p50", "p90"), "T<x>")
    assert "<b>" not in svg and "&lt;b&gt;&amp;amp;&#34;&#39;&lt;/b&gt;" in svg
    assert "<title>T&lt;x&gt;</title>" in svg
    bars = charts.grouped_bars(["<day>"], [("A&B", [3])], "t")
    assert "<day>" not in bars and "&lt;day&gt;: A&amp;B 3" in bars


def test_bar_heights_are_proportional():
    svg = str(charts.grouped_bars(["d1", "d2"], [("Created", [2, 4]), ("Resolved", [1, 0])],
                                  "t"))
    heights = [float(h) for h in re.findall(r'height="([^"]+)" fill="#\w+"><title>', svg)]
    assert heights[0] == pytest.approx(heights[2] / 2)  # 2 vs 4, on a scale up to 4
    assert heights[1] == pytest.approx(heights[2] / 4) and heights[3] == 0


def test_charts_without_data_say_so():
    assert "No data in this range." in charts.histogram([], "t")
    assert "No data in this range." in charts.horizontal_bars([], ("p50",), "t")
    histogram = charts.histogram([("<1d", 0), (">14d", 0)], "t")
    assert "&lt;1d" in histogram and "&gt;14d" in histogram


@pytest.mark.parametrize(("value", "ceiling"), [(0, 1), (0.3, 0.5), (1, 1), (3, 5), (7, 10),
                                                (11, 20), (250, 500)])
def test_nice_ceiling(value, ceiling):
    assert charts.nice_ceiling(value) == pytest.approx(ceiling)


@pytest.mark.parametrize(("value", "whole", "ceiling"), [
    (0, True, 4), (2, True, 4), (7, True, 8), (37, True, 40), (6.4, False, 8), (20, False, 20)])
def test_axis_ceiling_has_round_steps(value, whole, ceiling):
    assert charts.axis_ceiling(value, whole) == pytest.approx(ceiling)
