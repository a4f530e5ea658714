"""SLA reports for support managers: pages with charts and CSV; the figures come from queries.py."""

from flask import Blueprint

bp = Blueprint("reports", __name__, url_prefix="/reports")

from . import views  # noqa: E402,F401  (routes register themselves on bp)
