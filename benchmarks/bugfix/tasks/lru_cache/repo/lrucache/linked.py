"""A minimal doubly linked list of nodes with O(1) unlink and append."""


class Node:
    __slots__ = ("key", "value", "prev", "next")

    def __init__(self, key=None, value=None):
        self.key, self.value = key, value
        self.prev = self.next = None


class LinkedList:
    """Oldest at the front, newest at the back (a sentinel closes the ring)."""

    def __init__(self):
        self.root = Node()
        self.root.prev = self.root.next = self.root
        self.size = 0

    def append(self, node):
        last = self.root.prev
        last.next = node
        node.prev, node.next = last, self.root
        self.root.prev = node
        self.size += 1

    def unlink(self, node):
        node.prev.next = node.next
        node.next.prev = node.prev
        node.prev = node.next = None
        self.size -= 1

    def move_to_back(self, node):
        self.unlink(node)
        self.append(node)

    def pop_front(self):
        if self.size == 0:
            raise IndexError("pop from an empty list")
        node = self.root.next
        self.unlink(node)
        return node

    def keys(self):
        node, out = self.root.next, []
        while node is not self.root:
            out.append(node.key)
            node = node.next
        return out
