"""Render rows as a GitHub-flavoured Markdown table."""

from mdtable.table import render

__all__ = ["render"]
