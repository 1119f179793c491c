"""The API's datetime field: aware in, UTC ``Z`` out, whatever the year."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from rest_framework.exceptions import ValidationError

from reporting.api.fields import AwareDateTimeField


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime(2026, 11, 28, 9, 15, 30, 999_999, tzinfo=timezone(timedelta(hours=8))), "2026-11-28T01:15:30Z"),
        (datetime(34, 6, 18, 16, 12, 42, tzinfo=UTC), "0034-06-18T16:12:42Z"),
    ],
)
def test_times_are_rendered_in_utc_with_z(value, expected):
    assert AwareDateTimeField().to_representation(value) == expected


def test_an_offset_is_kept_on_input_and_a_naive_time_is_refused():
    field = AwareDateTimeField()
    assert field.to_internal_value("2026-11-28T09:15:00+08:00") == datetime(2026, 11, 28, 1, 15, tzinfo=UTC)
    with pytest.raises(ValidationError) as exc:
        field.to_internal_value("2026-11-28T09:15:00")
    assert "时区偏移" in str(exc.value.detail[0])
