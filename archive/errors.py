"""Errors of the archive package: one base class with an exit code, one-line messages."""

from __future__ import annotations


class ArchiveError(Exception):
    """Bad input for the archive: an unknown run or node, a diff that does not apply."""

    exit_code = 2


class UnknownNode(ArchiveError):
    """A node id the archive does not hold."""

    def __init__(self, node: object):
        super().__init__(f"unknown node {node!r}")
        self.node = node
