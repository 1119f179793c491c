"""Incidents, obligations, reports, signals and notifications (API.md). Views parse, call one service with the
request's single clock reading, and serialize; every rule is in ``reporting.services``."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from notifications.models import Notification
from reporting import obligation_services, report_services, selectors, services, signal_services
from reporting.api.base import ApiViewSet
from reporting.api.filters import IncidentFilter, NotificationFilter, ObligationFilter, ReportFilter, SignalFilter
from reporting.api.permissions import (
    ADMIN,
    AUDITOR,
    DUTY,
    DUTY_ROOM,
    FEED,
    LEADER,
    OPERATORS,
    READERS,
    UNIT_STAFF,
    role_of,
)
from reporting.api.serializers import OWN_UNIT_ONLY
from reporting.api.serializers_incidents import (
    CityReportInput,
    FirstKnownInput,
    IncidentCreateInput,
    IncidentSerializer,
    IncidentUnitInput,
    IncidentUpdateInput,
    NotRequiredInput,
    ObligationSerializer,
    ReportCreateInput,
    ReportSerializer,
    RestoreInput,
    SignalInput,
    SignalLinkInput,
    SignalSerializer,
    SignalUnlinkInput,
    TimelineEventSerializer,
)
from reporting.api.serializers_notifications import NotificationSerializer
from reporting.models import Incident


def _valid(serializer_class, data, **kwargs):
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class ReadMixin:
    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request, *args, **kwargs):
        return Response(self.get_serializer(self.get_object()).data)


@extend_schema_view(
    list=extend_schema(summary="突发事件列表 (incidents)"),
    retrieve=extend_schema(summary="突发事件及其报送义务 (an incident with its obligations)"),
)
class IncidentViewSet(ReadMixin, ApiViewSet):
    serializer_class = IncidentSerializer
    filterset_class = IncidentFilter
    roles = {
        "list": READERS,
        "retrieve": READERS,
        "timeline": READERS,
        "create": OPERATORS,
        "partial_update": DUTY,
        "units": DUTY,
    }
    # Each can make SMS go out: a new incident or unit starts clocks; a PATCH raising the figures tells leaders.
    throttled_actions = ("create", "units", "partial_update")
    # A client that lost the answer retries: the same key must not open a second incident (and a second chase).
    idempotent_actions = ("create", "units")

    def get_queryset(self):
        return selectors.incident_list(user=self.request.user).prefetch_related("obligations__unit")

    def _out(self, incident, code=status.HTTP_200_OK):
        incident = self.get_queryset().model.objects.prefetch_related("obligations__unit").get(pk=incident.pk)
        return Response(self.get_serializer(incident).data, status=code)

    @extend_schema(
        summary="新建突发事件 (duty room; unit staff for their own unit)",
        request=IncidentCreateInput,
        responses={201: IncidentSerializer},
    )
    def create(self, request, *args, **kwargs):
        data = _valid(IncidentCreateInput, request.data)
        if role_of(request.user) == UNIT_STAFF and any(u["unit"].pk != request.user.unit_id for u in data["units"]):
            raise serializers.ValidationError({"units": [OWN_UNIT_ONLY]})
        units = [dict(u) for u in data.pop("units")]
        incident = services.incident_create(actor=request.user, now=self.now, units=units, **data)
        return self._out(incident, status.HTTP_201_CREATED)

    @extend_schema(
        summary="修改事件数字、等级、标题、摘要 (duty room); 每次修改都记录",
        request=IncidentUpdateInput,
        responses={200: IncidentSerializer},
    )
    def partial_update(self, request, *args, **kwargs):
        incident = self.get_object()
        data = _valid(IncidentUpdateInput, request.data)
        incident = services.incident_update(incident=incident, actor=request.user, now=self.now, **data)
        return self._out(incident)

    @extend_schema(
        summary="增加责任单位 (duty room)",
        request=IncidentUnitInput,
        responses={201: ObligationSerializer},
    )
    @action(detail=True, methods=["post"])
    def units(self, request, *args, **kwargs):
        incident = self.get_object()
        data = _valid(IncidentUnitInput, request.data)
        obligation = services.incident_add_unit(
            incident=incident,
            unit=data["unit"],
            first_known_at=data["first_known_at"],
            channel=data["channel"],
            actor=request.user,
            now=self.now,
        )
        return Response(ObligationSerializer(obligation, context=self.get_serializer_context()).data, status=201)

    @extend_schema(
        summary="事件时间线: 审计事件, 按时间先后; 基层单位只看到事件本身和本单位的事件 (unit staff: the incident's "
        "own events and their unit's)",
        responses=TimelineEventSerializer(many=True),
    )
    @action(detail=True, methods=["get"], filterset_class=None)
    def timeline(self, request, *args, **kwargs):
        incident = self.get_object()
        page = self.paginate_queryset(selectors.incident_timeline(incident=incident, user=request.user))
        return self.get_paginated_response(TimelineEventSerializer(page, many=True).data)


@extend_schema_view(
    list=extend_schema(summary="报送义务列表 (obligations)"),
    retrieve=extend_schema(summary="报送义务 (an obligation)"),
)
class ObligationViewSet(ReadMixin, ApiViewSet):
    serializer_class = ObligationSerializer
    filterset_class = ObligationFilter
    roles = {
        "list": READERS,
        "retrieve": READERS,
        "not_required": DUTY,
        "restore": DUTY,
        "first_known": DUTY,
        "city_report": OPERATORS,
    }

    def get_queryset(self):
        return selectors.obligation_list(user=self.request.user)

    def _out(self, obligation):
        return Response(self.get_serializer(obligation).data)

    @extend_schema(
        summary="标记无需报送 (duty room), 须说明原因", request=NotRequiredInput, responses=ObligationSerializer
    )
    @action(detail=True, methods=["post"], url_path="not-required", filterset_class=None)
    def not_required(self, request, *args, **kwargs):
        obligation = self.get_object()
        data = _valid(NotRequiredInput, request.data)
        return self._out(
            obligation_services.obligation_mark_not_required(
                obligation=obligation, reason=data["reason"], actor=request.user, now=self.now
            )
        )

    @extend_schema(
        summary="撤销无需报送 (duty room), 须说明原因",
        description=(
            "Undo a not-required mark made by mistake: the clocks it stopped are pending again with their original "
            "due times (overdue at once if a due time has passed; the chasing resumes from the current step). A "
            "report filed while marked counts as of its counted time. 409 when the obligation is not marked not "
            "required; 400 for a missing, blank or overlong reason."
        ),
        request=RestoreInput,
        responses=ObligationSerializer,
    )
    @action(detail=True, methods=["post"], url_path="restore", filterset_class=None)
    def restore(self, request, *args, **kwargs):
        obligation = self.get_object()
        data = _valid(RestoreInput, request.data)
        return self._out(
            obligation_services.obligation_restore(
                obligation=obligation, reason=data["reason"], actor=request.user, now=self.now
            )
        )

    @extend_schema(
        summary="垂直管理单位登记向市级部门报告的时间 (拉条)", request=CityReportInput, responses=ObligationSerializer
    )
    @action(detail=True, methods=["post"], url_path="city-report", filterset_class=None)
    def city_report(self, request, *args, **kwargs):
        obligation = self.get_object()
        data = _valid(CityReportInput, request.data)
        return self._out(
            obligation_services.obligation_record_city_report(
                obligation=obligation, reported_at=data["reported_at"], actor=request.user, now=self.now
            )
        )

    @extend_schema(
        summary="更正首次知悉时间 (duty room); 已判定的迟报不会因此变为按时",
        request=FirstKnownInput,
        responses=ObligationSerializer,
    )
    @action(detail=True, methods=["post"], url_path="first-known", filterset_class=None)
    def first_known(self, request, *args, **kwargs):
        obligation = self.get_object()
        data = _valid(FirstKnownInput, request.data)
        return self._out(
            obligation_services.obligation_correct_first_known(
                obligation=obligation,
                first_known_at=data["first_known_at"],
                reason=data["reason"],
                actor=request.user,
                now=self.now,
            )
        )


@extend_schema_view(
    list=extend_schema(summary="报告列表 (reports)"),
    retrieve=extend_schema(summary="报告 (a report); 已报送的报告不能修改或删除 (PUT/PATCH/DELETE: 405)"),
)
class ReportViewSet(ReadMixin, ApiViewSet):
    serializer_class = ReportSerializer
    filterset_class = ReportFilter
    roles = {"list": READERS, "retrieve": READERS, "create": OPERATORS, "file": OPERATORS}
    throttled_actions = ("create", "file")
    # A retried written report would be filed again as sequence 2.
    idempotent_actions = ("create", "file")

    def get_queryset(self):
        return selectors.report_list(user=self.request.user)

    @extend_schema(
        summary="报送或保存草稿 (unit staff for their own unit; duty room for any unit)",
        request=ReportCreateInput,
        responses={201: ReportSerializer},
    )
    def create(self, request, *args, **kwargs):
        data = _valid(ReportCreateInput, request.data, user=request.user)
        obligation = data.pop("obligation")
        report = report_services.report_create(
            obligation=obligation,
            kind=data.pop("kind"),
            actor=request.user,
            now=self.now,
            draft=data.pop("draft"),
            call_received_at=data.pop("call_received_at"),
            references=data.pop("references"),
            **data,
        )
        return Response(self.get_serializer(report).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="报送已保存的草稿", request=None, responses=ReportSerializer)
    @action(detail=True, methods=["post"], filterset_class=None)
    def file(self, request, *args, **kwargs):
        report = report_services.report_file(report=self.get_object(), actor=request.user, now=self.now)
        return Response(self.get_serializer(report).data)


@extend_schema_view(
    list=extend_schema(summary="信息线索列表 (signals)"),
    retrieve=extend_schema(summary="信息线索 (a signal)"),
)
class SignalViewSet(ReadMixin, ApiViewSet):
    serializer_class = SignalSerializer
    filterset_class = SignalFilter
    roles = {
        "create": frozenset({FEED, DUTY_ROOM, ADMIN}),
        "list": frozenset({UNIT_STAFF, DUTY_ROOM, LEADER, AUDITOR, ADMIN}),
        "retrieve": frozenset({UNIT_STAFF, DUTY_ROOM, LEADER, AUDITOR, ADMIN}),
        "link": DUTY,
        "unlink": DUTY,
        "incident": DUTY,
    }
    # Opening an incident from a signal starts clocks (and may tell leaders); a link makes a unit's evidence, and
    # unlinking moves clocks back.
    throttled_actions = ("incident", "link", "unlink")
    # ``create`` is idempotent on (source, external_id) already (API.md); a retried ``incident`` would get a 409.
    idempotent_actions = ("incident",)

    def get_queryset(self):
        return selectors.signal_list(user=self.request.user)

    @extend_schema(
        summary="接收外部信息线索; 按 (source, external_id) 幂等: 首次 201, 重复 200 返回同一对象",
        request=SignalInput,
        responses={201: SignalSerializer, 200: SignalSerializer},
    )
    def create(self, request, *args, **kwargs):
        data = _valid(SignalInput, request.data)
        if data.get("incident") is not None and role_of(request.user) == FEED:
            raise serializers.ValidationError(
                {"incident": ["关联事件由总值班室决定 (linking to an incident is the duty room's choice)"]}
            )
        signal, created = signal_services.signal_ingest(actor=request.user, now=self.now, **data)
        return Response(self.get_serializer(signal).data, status=201 if created else 200)

    @extend_schema(summary="将线索关联到事件 (duty room)", request=SignalLinkInput, responses=SignalSerializer)
    @action(detail=True, methods=["post"], filterset_class=None)
    def link(self, request, *args, **kwargs):
        signal = self.get_object()
        data = _valid(SignalLinkInput, request.data)
        signal = signal_services.signal_link(signal=signal, incident=data["incident"], actor=request.user, now=self.now)
        return Response(self.get_serializer(signal).data)

    @extend_schema(
        summary="取消线索与事件的关联 (duty room), 须说明原因; 409 when the signal is not linked",
        description=(
            "Undoes a wrong link: the signal waits again (link it to the right incident with `link/`). A first-known "
            "time that came from its delivery moves to the earliest remaining evidence (recorded as a first-known "
            "correction; lateness already decided stays, SPEC rule 4); an obligation the link alone opened, with "
            "nothing filed, is marked not required with the reason (rule 11). Findings that rested on the link are "
            "withdrawn. See docs/api-beyond-the-contract.md."
        ),
        request=SignalUnlinkInput,
        responses=SignalSerializer,
    )
    @action(detail=True, methods=["post"], filterset_class=None)
    def unlink(self, request, *args, **kwargs):
        signal = self.get_object()
        data = _valid(SignalUnlinkInput, request.data)
        signal = signal_services.signal_unlink(signal=signal, reason=data["reason"], actor=request.user, now=self.now)
        return Response(self.get_serializer(signal).data)

    @extend_schema(
        summary="据线索新建事件并关联 (duty room): one transaction; 409 when the signal is already linked",
        request=IncidentCreateInput,
        responses={201: IncidentSerializer},
    )
    @action(detail=True, methods=["post"], filterset_class=None)
    def incident(self, request, *args, **kwargs):
        signal = self.get_object()
        data = _valid(IncidentCreateInput, request.data)
        units = [dict(u) for u in data.pop("units")]
        incident = signal_services.incident_create_from_signal(
            signal=signal, actor=request.user, now=self.now, units=units, **data
        )
        incident = Incident.objects.prefetch_related("obligations__unit").get(pk=incident.pk)
        return Response(IncidentSerializer(incident, context=self.get_serializer_context()).data, status=201)


@extend_schema_view(
    list=extend_schema(summary="通知列表 (duty room, auditors)"),
    retrieve=extend_schema(summary="通知 (a notification)"),
)
class NotificationViewSet(ReadMixin, ApiViewSet):
    serializer_class = NotificationSerializer
    filterset_class = NotificationFilter
    roles = {"*": frozenset({DUTY_ROOM, AUDITOR, ADMIN})}

    def get_queryset(self):
        return Notification.objects.order_by("-id")
