"""Inclusive date ranges and ISO date parsing."""

from dateranges.parse import parse_date
from dateranges.ranges import business_days, date_range, overlap_days

__all__ = ["business_days", "date_range", "overlap_days", "parse_date"]
