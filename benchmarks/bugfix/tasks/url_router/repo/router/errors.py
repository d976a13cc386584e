"""Routing failures."""


class RoutingError(LookupError):
    status = 500


class NotFound(RoutingError):
    status = 404


class MethodNotAllowed(RoutingError):
    status = 405
