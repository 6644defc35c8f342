"""The freshness guard: fresh input passes, stale input stops the job, the override records why."""

from datetime import date

import pytest

from common.freshness import StaleInput, check_freshness

AS_OF = date(2026, 11, 23)


def test_fresh_input_passes_with_its_age():
    fresh = check_freshness(date(2026, 11, 16), AS_OF, 7, "sales")
    assert (fresh.age_days, fresh.stale) == (7, False)


def test_stale_input_is_one_line_naming_days_and_the_override():
    with pytest.raises(StaleInput) as caught:
        check_freshness(date(2025, 3, 10), AS_OF, 7, "sales")
    message = str(caught.value)
    assert message.startswith("newest sales 2025-03-10 are 623 days older than as-of 2026-11-23 (limit 7 days)")
    assert "--allow-stale" in message and "\n" not in message


def test_the_override_proceeds_and_keeps_the_warning():
    stale = check_freshness(date(2025, 3, 10), AS_OF, 7, "sales", allow_stale=True)
    assert stale.stale and stale.message("sales").startswith("newest sales 2025-03-10 are 623 days older")


def test_a_negative_limit_is_refused():
    with pytest.raises(ValueError):
        check_freshness(AS_OF, AS_OF, -1, "sales")
