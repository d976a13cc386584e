"""A small URL router with typed path parameters."""

from router.errors import MethodNotAllowed, NotFound
from router.route import Route
from router.router import Router

__all__ = ["MethodNotAllowed", "NotFound", "Route", "Router"]
