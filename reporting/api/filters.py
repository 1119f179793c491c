"""List filters (django-filter), exactly the query parameters of API.md."""

from __future__ import annotations

import django_filters as filters
from django import forms
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from notifications.models import NotificationStatus
from reporting.models import Domain, Obligation, ReportKind


class AwareDateTimeFormField(forms.CharField):
    """ISO 8601 with an offset; a naive or malformed time is a 400 naming the parameter."""

    def to_python(self, value):
        value = super().to_python(value)
        if value in self.empty_values:
            return None
        try:
            parsed = parse_datetime(value.strip())
        except ValueError:
            parsed = None
        if parsed is None:
            raise forms.ValidationError("时间格式应为 ISO 8601, 如 2026-11-28T09:15:00+08:00 (not an ISO 8601 time)")
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            raise forms.ValidationError("时间必须带时区偏移 (a time needs a UTC offset)")
        return parsed


@extend_schema_field(OpenApiTypes.DATETIME)
class AwareDateTimeFilter(filters.Filter):
    field_class = AwareDateTimeFormField


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(filters.Filter):
    """An integer id (django-filter's NumberFilter would accept 1.5)."""

    field_class = forms.IntegerField


BOOLEAN_CHOICES = [("true", "true"), ("false", "false")]


class StrictBooleanFilter(filters.ChoiceFilter):
    """``true`` or ``false``; anything else is a 400 (django-filter's BooleanFilter silently ignores it)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("choices", BOOLEAN_CHOICES)
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        if value in self.field.empty_values:
            return qs
        return filters.Filter.filter(self, qs, value == "true")


class IncidentFilter(filters.FilterSet):
    unit = filters.CharFilter(method="filter_unit", max_length=40, help_text="责任单位代码 (a responsible unit's code)")
    domain = filters.ChoiceFilter(choices=Domain.choices)
    open = StrictBooleanFilter(method="filter_open", help_text="仍有未完成的报送 (some clock still running)")
    exercise = StrictBooleanFilter()
    since = AwareDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    until = AwareDateTimeFilter(field_name="occurred_at", lookup_expr="lte")

    def filter_unit(self, queryset, name, value):
        return queryset.filter(pk__in=Obligation.objects.filter(unit__code=value).values("incident_id"))

    def filter_open(self, queryset, name, value):
        open_ids = Obligation.objects.open().values("incident_id")
        return queryset.filter(pk__in=open_ids) if value == "true" else queryset.exclude(pk__in=open_ids)


class ObligationFilter(filters.FilterSet):
    unit = filters.CharFilter(field_name="unit__code", max_length=40)
    state = filters.ChoiceFilter(
        method="filter_state",
        choices=[("open", "open"), ("overdue", "overdue"), ("done", "done")],
        help_text="open: 仍在计时; overdue: 已超时未报; done: 两个时限均已了结",
    )
    incident = IdFilter(field_name="incident_id")

    def filter_state(self, queryset, name, value):
        if value == "open":
            return queryset.filter(pk__in=Obligation.objects.open().values("pk"))
        if value == "overdue":
            now = getattr(self.request, "now", None) or timezone.now()
            return queryset.filter(pk__in=Obligation.objects.overdue(now).values("pk"))
        return queryset.filter(pk__in=Obligation.objects.done().values("pk"))


class ReportFilter(filters.FilterSet):
    incident = IdFilter(field_name="incident_id")
    unit = filters.CharFilter(field_name="unit__code", max_length=40)
    kind = filters.ChoiceFilter(choices=ReportKind.choices)


class SignalFilter(filters.FilterSet):
    incident = IdFilter(field_name="incident_id")
    delivered_to = filters.CharFilter(field_name="delivered_to__code", max_length=40)
    linked = StrictBooleanFilter(field_name="incident", lookup_expr="isnull", exclude=True)


class NotificationFilter(filters.FilterSet):
    incident = IdFilter(field_name="incident_id")
    obligation = IdFilter(field_name="obligation_id")
    recipient = IdFilter(field_name="recipient_id")
    status = filters.ChoiceFilter(choices=NotificationStatus.choices)
