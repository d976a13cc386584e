"""Reports."""

from collections import Counter

from logstats.dedupe import unique_in_order
from logstats.parse import words


def top_words(lines, n=10):
    return Counter(words(lines)).most_common(n)


def distinct_report(lines):
    """(number of distinct words, the distinct words in first-seen order)."""
    distinct = unique_in_order(words(lines))
    return len(distinct), distinct
