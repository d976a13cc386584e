"""The cache: a dict for lookup, a linked list for recency."""

from lrucache.linked import LinkedList, Node

_MISSING = object()


class LRUCache:
    """Holds at most `capacity` items; the least recently used one goes first."""

    def __init__(self, capacity):
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._nodes = {}
        self._order = LinkedList()
        self.hits = self.misses = 0

    def __len__(self):
        return len(self._nodes)

    def __contains__(self, key):
        return key in self._nodes

    def get(self, key, default=None):
        node = self._nodes.get(key, _MISSING)
        if node is _MISSING:
            self.misses += 1
            return default
        self.hits += 1
        self._order.move_to_back(node)
        return node.value

    def put(self, key, value):
        node = self._nodes.get(key)
        if node is not None:
            node.value = value
            self._order.move_to_back(node)
            return
        if len(self._nodes) >= self.capacity:
            oldest = self._order.pop_front()
            del self._nodes[oldest.key]
        node = Node(key, value)
        self._nodes[key] = node
        self._order.append(node)

    def keys(self):
        """Keys from least to most recently used."""
        return self._order.keys()
