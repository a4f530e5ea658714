"""SLA reports for support managers: pages with charts and CSV; the figures come from queries.py."""

from .views import bp

__all__ = ["bp"]
