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


def test_model_serializer_fields_are_built_once_per_class_and_copied_per_instance(world):
    """Built once (the cost of rendering is otherwise mostly DRF introspecting the model); each instance owns its
    fields, so one instance's changes never reach another's."""
    from reporting.api.serializers_incidents import ReportSerializer

    first, second = ReportSerializer(world["report"]), ReportSerializer(world["draft"])
    assert set(first.fields) == set(second.fields) and "unit" in first.fields
    assert first.fields["unit"] is not second.fields["unit"]
    first.fields["account"].label = "changed"
    assert second.fields["account"].label != "changed"
    assert first.data["unit"] == "sijing" and first.data["draft"] is False and second.data["draft"] is True
    assert ReportSerializer.__dict__["_built_fields"]["kind"] is not first.fields["kind"]


def test_input_serializer_fields_are_copies_bound_to_their_own_instance():
    """Declared fields are copied per instance without re-running their constructors; binding one copy (or changing
    it) never reaches the class's fields or another instance, and nested serializers get their own children."""
    from reporting.api.serializers_incidents import IncidentCreateInput, ReportCreateInput

    first, second = ReportCreateInput(data={}), ReportCreateInput(data={})
    assert first.fields["kind"] is not second.fields["kind"]
    assert first.fields["kind"].parent is first and second.fields["kind"].parent is second
    assert ReportCreateInput._declared_fields["kind"].parent is None  # the class's own field stays unbound
    first.fields["account"].label = "changed"
    assert second.fields["account"].label != "changed"
    assert first.fields["account"].validators == second.fields["account"].validators != []

    one, other = IncidentCreateInput(data={}), IncidentCreateInput(data={})
    assert one.fields["units"] is not other.fields["units"]
    assert one.fields["units"].child is not other.fields["units"].child
    assert one.fields["units"].child.root is one


def test_a_copied_field_still_validates_as_declared():
    from reporting.api.serializers_incidents import ReportCreateInput

    serializer = ReportCreateInput(data={"incident": "x", "unit": "u" * 41, "kind": "shouted", "injuries": -1})
    assert not serializer.is_valid()
    assert set(serializer.errors) == {"incident", "unit", "kind", "injuries"}
    assert "整数" in str(serializer.errors["incident"][0])
