"""A least-recently-used cache built on a doubly linked list."""

from lrucache.cache import LRUCache

__all__ = ["LRUCache"]
