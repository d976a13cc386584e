"""Dispatch (method, path) to the first matching route."""

from router.errors import MethodNotAllowed, NotFound
from router.route import Route


class Router:
    def __init__(self):
        self.routes = []

    def add(self, pattern, handler, methods=("GET",)):
        self.routes.append(Route(pattern, handler, methods))

    def route(self, pattern, methods=("GET",)):
        """Decorator form of `add`."""

        def register(handler):
            self.add(pattern, handler, methods)
            return handler

        return register

    def resolve(self, method, path):
        """(handler, params) for the request, or NotFound / MethodNotAllowed."""
        allowed = set()
        for route in self.routes:
            params = route.match(path)
            if params is None:
                continue
            if method.upper() in route.methods:
                return route.handler, params
            allowed |= route.methods
        if allowed:
            raise MethodNotAllowed(f"{method} {path}: allowed {sorted(allowed)}")
        raise NotFound(path)

    def dispatch(self, method, path):
        handler, params = self.resolve(method, path)
        return handler(**params)
