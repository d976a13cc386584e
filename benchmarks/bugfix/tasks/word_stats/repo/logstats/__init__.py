"""Statistics over the words of log files."""

from logstats.dedupe import unique_in_order
from logstats.parse import words
from logstats.top import distinct_report, top_words

__all__ = ["distinct_report", "top_words", "unique_in_order", "words"]
