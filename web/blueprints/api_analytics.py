"""Complaint analytics for BI tools: GET /api/v1/analytics/kpis and one endpoint per chart series.

Same period and filter arguments as the dashboard, same tables as its charts and CSV exports
(processes/complaints/analytics_charts.py)."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from processes.complaints import analytics
from processes.complaints.analytics_charts import CHARTS
from web.analytics_web import chart_table, read_query
from web.auth import authenticate_api_request
from web.context import actor, database
from web.openapi import error_responses, ok, register_paths
from web.security import csrf

bp = Blueprint("api_analytics", __name__)
url_prefix = "/api/v1/analytics"
csrf.exempt(bp)


@bp.before_request
def authenticate():
    return authenticate_api_request()


@bp.get("/kpis")
def kpis():
    analytics.require_viewer(actor())
    period, filters, _interval = read_query(request.args)
    with database().session() as s:
        return jsonify(analytics.kpis(s, period, filters))


@bp.get("/heatmap")
def heatmap():
    """Where complaints wait in the process: per task and lane, bottlenecks and outliers."""
    from processes.complaints.analytics_heatmap import heatmap as figures

    analytics.require_viewer(actor())
    period, filters, _interval = read_query(request.args)
    with database().session() as s:
        return jsonify(figures(s, period, filters))


@bp.get("/<chart>")
def series(chart: str):
    analytics.require_viewer(actor())
    if chart.replace("-", "_") not in CHARTS:
        return jsonify({"error": f"No such chart; charts: {', '.join(c.replace('_', '-') for c in CHARTS)}."}), 404
    period, filters, interval = read_query(request.args)
    with database().session() as s:
        table = chart_table(s, chart.replace("-", "_"), period, filters, interval)
    return jsonify({**table.as_json(), "from": period.start.isoformat(), "to": period.end.isoformat(),
                    "filters": filters.as_args()})


_QUERY = [
    {"name": "from", "in": "query", "schema": {"type": "string", "format": "date"},
     "description": "First day (local calendar of the SLA profile); default 29 days before `to`"},
    {"name": "to", "in": "query", "schema": {"type": "string", "format": "date"}, "description": "Last day; default today"},
    *({"name": dim, "in": "query", "schema": {"type": "string"}} for dim in analytics.DIMENSIONS),
]
_FIGURES = {"type": "object", "description": "See docs/analytics.md for each figure's formula",
            "additionalProperties": True,
            "properties": {"from": {"type": "string", "format": "date"}, "to": {"type": "string", "format": "date"},
                           "received": {"type": "integer"}, "closed": {"type": "integer"},
                           "sla_compliance": {"type": ["number", "null"]}, "csat": {"type": ["number", "null"]},
                           "compensation_paid": {"type": "string"}}}
_TABLE = {"type": "object", "required": ["chart", "columns", "rows"],
          "properties": {"chart": {"type": "string"}, "columns": {"type": "array", "items": {"type": "string"}},
                         "rows": {"type": "array", "items": {"type": "array"}},
                         "drill": {"type": "object", "additionalProperties": {"type": "string"}},
                         "interval": {"type": ["string", "null"]}}}
_INTERVAL = {"name": "interval", "in": "query", "schema": {"type": "string", "enum": ["day", "week", "month"]}}

register_paths(
    {
        "/analytics/kpis": {"get": {
            "summary": "Every complaint KPI for a period and filter, with the previous period of the same length",
            "parameters": _QUERY,
            "responses": {**ok("Figures of this period and the previous one", {
                "type": "object", "required": ["current", "previous"],
                "properties": {"current": {"$ref": "#/components/schemas/AnalyticsFigures"},
                               "previous": {"$ref": "#/components/schemas/AnalyticsFigures"},
                               "source": {"type": "string", "enum": ["rollups", "facts"]}}}),
                **error_responses(401, 403, 422)},
        }},
        "/analytics/heatmap": {"get": {
            "summary": "The process heatmap: count, median and p90 waiting per task and lane, bottlenecks, outliers",
            "parameters": _QUERY,
            "responses": {**ok("Waiting per element", {"type": "object", "required": ["elements", "lanes"],
                                                       "properties": {"elements": {"type": "array"},
                                                                      "lanes": {"type": "array"},
                                                                      "bottlenecks": {"type": "array"},
                                                                      "outliers": {"type": "array"}}}),
                          **error_responses(401, 403, 422)},
        }},
        **{f"/analytics/{chart.replace('_', '-')}": {"get": {
            "summary": f"The {chart.replace('_', ' ')} chart's series as a table",
            "parameters": [*_QUERY, _INTERVAL],
            "responses": {**ok("Columns and rows", {"$ref": "#/components/schemas/AnalyticsTable"}),
                          **error_responses(401, 403, 422)},
        }} for chart in CHARTS},
    },
    {"AnalyticsFigures": _FIGURES, "AnalyticsTable": _TABLE},
)
