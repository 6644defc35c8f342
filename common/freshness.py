"""Freshness guard for batch jobs that read facts up to an as-of day.

A job that silently works on input that stopped arriving produces confident nonsense (a forecast
of a series zero-filled for months). Every such job checks how old its newest input is before it
starts, fails with one line when it is older than a limit, and with an explicit override
proceeds and records the warning where its results go.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

DEFAULT_MAX_STALENESS_DAYS = 7


class StaleInput(Exception):
    """The newest input is older than allowed; the message says by how much and what to do."""


@dataclass(frozen=True)
class Freshness:
    newest: date
    as_of: date
    age_days: int
    limit_days: int

    @property
    def stale(self) -> bool:
        return self.age_days > self.limit_days

    def message(self, what: str) -> str:
        return (
            f"newest {what} {self.newest} are {self.age_days} days older than as-of {self.as_of}"
            f" (limit {self.limit_days} days): the input has stopped arriving or the as-of day is wrong"
        )


def check_freshness(newest: date, as_of: date, limit_days: int, what: str, allow_stale: bool = False) -> Freshness:
    """The input's age at ``as_of``; raises StaleInput beyond ``limit_days`` unless ``allow_stale``."""
    if limit_days < 0:
        raise ValueError("the staleness limit must be >= 0 days")
    freshness = Freshness(newest, as_of, (as_of - newest).days, limit_days)
    if freshness.stale and not allow_stale:
        raise StaleInput(f"{freshness.message(what)}; pass --allow-stale to run anyway with a recorded warning")
    return freshness
