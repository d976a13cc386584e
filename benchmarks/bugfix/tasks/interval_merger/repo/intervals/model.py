"""The closed interval [start, end]."""

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Interval:
    start: int
    end: int

    def __post_init__(self):
        if self.end < self.start:
            raise ValueError(f"end {self.end} before start {self.start}")

    @classmethod
    def of(cls, pair):
        return cls(*pair)

    def length(self):
        return self.end - self.start
