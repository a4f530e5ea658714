"""The JSON API, version 1."""

from .views import bp

__all__ = ["bp"]
