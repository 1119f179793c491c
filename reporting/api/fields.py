"""Serializer fields shared by the API: aware datetimes in, UTC ``Z`` out; E.164 phones; bounded integers."""

from __future__ import annotations

import copy
import re
from datetime import UTC

from django.core.validators import RegexValidator
from django.db import models
from django.utils.dateparse import parse_datetime
from rest_framework import serializers

from reporting.text import CONTROL_MESSAGE, has_control_characters

#: PostgreSQL integer / bigint bounds: larger values would be a database error (a 500), so they are a 400 here.
MAX_INT = 2_147_483_647
MAX_BIGINT = 9_223_372_036_854_775_807

_E164 = RegexValidator(
    regex=re.compile(r"^\+[1-9]\d{6,14}\Z"),
    message="手机号码须为 E.164 格式, 如 +8617000000001 (phone must be E.164, e.g. +8617000000001)",
)


def E164(value: str) -> None:
    """E.164 (``+`` and 7 to 15 digits). A function rather than the RegexValidator itself, so the schema carries no
    ``pattern``: stored contacts may have no phone (""), and responses must still conform."""
    _E164(value)


class AwareDateTimeField(serializers.DateTimeField):
    """ISO 8601 with a UTC offset in (SPEC rule 6: a naive time is refused); UTC with ``Z`` out.

    DRF would silently make a naive time aware in the server's zone and would render aware times in the
    current zone (Asia/Shanghai) with a literal ``Z``: both are wrong for this contract.
    """

    default_error_messages = {
        "naive": "时间必须带时区偏移, 如 2026-11-28T09:15:00+08:00 (a time needs a UTC offset)",
    }

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("default_timezone", UTC)
        super().__init__(*args, **kwargs)

    def to_internal_value(self, value):
        if isinstance(value, str):
            try:
                parsed = parse_datetime(value.strip())
            except ValueError:
                parsed = None
            if parsed is not None and (parsed.tzinfo is None or parsed.utcoffset() is None):
                self.fail("naive")
        return super().to_internal_value(value)

    def to_representation(self, value):
        """UTC, to the second, with ``Z``. ``isoformat`` rather than ``strftime``: ``%Y`` does not zero-pad years
        before 1000 on Linux, which would not be an ISO 8601 date-time."""
        if not value or isinstance(value, str):
            return value
        return self.enforce_timezone(value).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def no_control_characters(value: str) -> None:
    """Text is printable, tabs and line breaks allowed (``reporting.text``)."""
    if has_control_characters(value):
        raise serializers.ValidationError(CONTROL_MESSAGE)


def count_field(**kwargs) -> serializers.IntegerField:
    """A casualty count: 0 or more, within the database's integer range."""
    return serializers.IntegerField(min_value=0, max_value=MAX_INT, **kwargs)


def money_field(**kwargs) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=0, max_value=MAX_BIGINT, **kwargs)


def text_field(max_length: int, **kwargs) -> serializers.CharField:
    """Text with a bound; empty or whitespace-only strings are refused unless ``allow_blank`` is passed."""
    kwargs["validators"] = [*kwargs.get("validators", []), no_control_characters]
    return serializers.CharField(max_length=max_length, **kwargs)


def _fields_copy(fields: dict[str, serializers.Field]) -> dict[str, serializers.Field]:
    """Unbound copies of ``fields`` for one serializer instance.

    DRF deep-copies a serializer's fields for every instance, and a field's deep copy runs its ``__init__`` again
    (validators, choices, error messages): about a tenth of a report filing's CPU. A field is bound to its
    serializer by setting attributes on it (name, parent, source), which a shallow copy keeps to itself; its
    validators, choices and messages are never changed once built, so the copies share them. A field holding other
    fields (a nested serializer, a list of a child field) is deep-copied as DRF does, since binding changes its
    children too.
    """
    return {
        name: copy.deepcopy(field)
        if isinstance(field, serializers.BaseSerializer) or hasattr(field, "child") or hasattr(field, "child_relation")
        else copy.copy(field)
        for name, field in fields.items()
    }


class Serializer(serializers.Serializer):
    # (Comments, not a docstring: drf-spectacular would show a base class's docstring as the description of every
    # serializer without its own.) The base of input serializers: cheaper copies of the declared fields.

    def get_fields(self):
        return _fields_copy(self._declared_fields)


class ModelSerializer(serializers.ModelSerializer):
    # (Comments, not a docstring: drf-spectacular would show a base class's docstring as the description of every
    # serializer without its own.)
    # Every model datetime is an aware, UTC-rendered field.
    # DRF builds a model serializer's fields from the model's metadata for every instance, which costs more than
    # anything else in rendering one object (a tenth of a report filing). The fields depend only on the class, so
    # they are built once per class and every instance gets a copy (``_fields_copy``).

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateTimeField: AwareDateTimeField,
    }

    def get_fields(self):
        cls = type(self)
        built = cls.__dict__.get("_built_fields")
        if built is None:
            built = super().get_fields()
            cls._built_fields = built
        return _fields_copy(built)
