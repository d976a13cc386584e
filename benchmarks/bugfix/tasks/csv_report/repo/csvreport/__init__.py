"""Sales reports from CSV exports."""

from csvreport.loader import load_rows
from csvreport.render import render_report
from csvreport.summary import totals_by

__all__ = ["load_rows", "render_report", "totals_by"]
