"""Audit API endpoints (API.md "Audit"): ``/findings/``, ``/findings/{id}/review/`` and ``/stats/timeliness/``.

Access (API.md "Audit (auditors; duty room read)", SPEC "Integrity and access"):

- read (findings list, timeliness figures): auditors, the duty room, district leaders (SPEC: "district leader
  (read)") and admins;
- review: auditors and admins only (the duty room and leaders get 403);
- unit staff and feeds: 403 on every audit endpoint. Findings are an oversight record *about* units, not
  operational data of a unit, so unit staff do not read even their own (the role may not do the action: 403,
  not the 404 reserved for objects outside an allowed caller's scope).
"""

from __future__ import annotations

from django.http import Http404, HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import BasePermission
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response

from reporting import exports, selectors, stats
from reporting.api.fields import AwareDateTimeField, Serializer
from reporting.findings_services import finding_review
from reporting.models import FindingKind, ReviewState, Role, Unit

READ_ROLES = frozenset({Role.AUDITOR, Role.DUTY_ROOM, Role.DISTRICT_LEADER, Role.ADMIN})
REVIEW_ROLES = frozenset({Role.AUDITOR, Role.ADMIN})


class AuditPermission(BasePermission):
    """Reads for ``READ_ROLES``; the ``review`` action for ``REVIEW_ROLES``; everyone else 403 (401 anonymous)."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not user or not user.is_authenticated or not user.is_active:
            return False
        allowed = REVIEW_ROLES if getattr(view, "action", None) == "review" else READ_ROLES
        return user.effective_role in allowed


# --- input -------------------------------------------------------------------------------------------------------


def _unit_by_code(code: str | None) -> Unit | None:
    if not code:
        return None
    unit = Unit.objects.filter(code=code).first()
    if unit is None:
        raise ValidationError({"unit": [f"未知单位: {code} (unknown unit code)"]})
    return unit


class PeriodQuerySerializer(Serializer):
    since = AwareDateTimeField(required=False, help_text="区间起 (含), ISO 8601 带时区偏移")
    until = AwareDateTimeField(required=False, help_text="区间止 (不含), ISO 8601 带时区偏移")
    unit = serializers.SlugField(required=False, max_length=40, help_text="单位代码")

    def validate(self, attrs):
        since, until = attrs.get("since"), attrs.get("until")
        if since is not None and until is not None and since >= until:
            raise ValidationError({"until": ["区间止必须晚于区间起 (until must be after since)"]})
        return attrs


class FindingQuerySerializer(PeriodQuerySerializer):
    kind = serializers.ChoiceField(choices=FindingKind.choices, required=False)
    review = serializers.ChoiceField(choices=ReviewState.choices, required=False)
    # ``true`` or ``false`` only (DRF's BooleanField would also take yes/1/on): what the other list filters accept.
    withdrawn = serializers.ChoiceField(
        choices=["true", "false"],
        required=False,
        error_messages={"invalid_choice": "须为 true 或 false (must be true or false)"},
    )


class ReviewInputSerializer(Serializer):
    decision = serializers.ChoiceField(
        choices=[ReviewState.CONFIRMED, ReviewState.DISMISSED],
        error_messages={
            "invalid_choice": "审核结论须为 confirmed 或 dismissed (decision must be confirmed or dismissed)"
        },
    )
    reason = serializers.CharField(
        max_length=2000,
        error_messages={
            "required": "必须填写审核理由 (a reason is required)",
            "blank": "必须填写审核理由 (a reason is required)",
        },
    )


# --- output ------------------------------------------------------------------------------------------------------


class FindingSerializer(Serializer):
    """API.md's finding, plus ``signal``, ``found_at``, ``superseded_by``, ``reviewed_at``, ``kind_display`` and
    ``withdrawn_at``."""

    id = serializers.IntegerField(read_only=True)
    kind = serializers.ChoiceField(choices=FindingKind.choices, read_only=True)
    kind_display = serializers.CharField(source="get_kind_display", read_only=True)
    unit = serializers.CharField(source="unit.code", read_only=True)
    incident = serializers.IntegerField(source="incident_id", read_only=True, allow_null=True)
    obligation = serializers.IntegerField(source="obligation_id", read_only=True, allow_null=True)
    report = serializers.IntegerField(source="report_id", read_only=True, allow_null=True)
    signal = serializers.IntegerField(source="signal_id", read_only=True, allow_null=True)
    detail = serializers.JSONField(read_only=True)
    suspected = serializers.BooleanField(read_only=True)
    review = serializers.ChoiceField(choices=ReviewState.choices, read_only=True)
    reviewed_by = serializers.IntegerField(source="reviewed_by_id", read_only=True, allow_null=True)
    reviewed_at = AwareDateTimeField(read_only=True, allow_null=True)
    reason = serializers.CharField(read_only=True)
    found_at = AwareDateTimeField(read_only=True)
    superseded_by = serializers.IntegerField(source="superseded_by_id", read_only=True, allow_null=True)
    withdrawn_at = AwareDateTimeField(
        read_only=True,
        allow_null=True,
        help_text="系统撤销时间: when a recompute found that the data no longer supports the finding (it then counts "
        "in no figure; its review is kept); null while it is supported.",
    )


class TimelinessRowSerializer(Serializer):
    unit = serializers.CharField()
    obligations = serializers.IntegerField()
    verbal_on_time = serializers.IntegerField()
    written_on_time = serializers.IntegerField()
    verbal_on_time_rate = serializers.FloatField(allow_null=True)
    written_on_time_rate = serializers.FloatField(allow_null=True)
    median_verbal_delay_seconds = serializers.FloatField(allow_null=True)
    p90_written_delay_seconds = serializers.FloatField(allow_null=True)
    late = serializers.IntegerField()
    missed = serializers.IntegerField()
    held_back = serializers.IntegerField()
    concealed = serializers.IntegerField()
    # Added after API.md's row, at its end (``reporting.stats.FIELDS``).
    median_written_delay_seconds = serializers.FloatField(allow_null=True)
    p90_verbal_delay_seconds = serializers.FloatField(allow_null=True)
    roster_gaps = serializers.IntegerField(help_text="双人在岗缺口: live roster-gap findings found in the period")


# --- renderers ---------------------------------------------------------------------------------------------------


class _DownloadRenderer(BaseRenderer):
    """Passes bytes built by ``reporting.exports`` through; anything else (an error body) is JSON."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, bytes):
            return data
        return JSONRenderer().render(data, accepted_media_type, renderer_context)


class CSVRenderer(_DownloadRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"


class XLSXRenderer(_DownloadRenderer):
    media_type = exports.XLSX_CONTENT_TYPE
    format = "xlsx"
    charset = None


class _StrictNegotiation:
    """An unknown ``?format=`` is a 400 naming the accepted ones (DRF would answer 404); error bodies are JSON."""

    def perform_content_negotiation(self, request, force=False):
        try:
            return super().perform_content_negotiation(request, force)
        except Http404 as exc:
            formats = ", ".join(r.format for r in self.get_renderers())
            raise ValidationError({"format": [f"不支持的格式 (unsupported format; one of {formats})"]}) from exc

    def finalize_response(self, request, response, *args, **kwargs):
        if response.status_code >= 400 and getattr(request, "accepted_renderer", None) is not None:
            if request.accepted_renderer.format != "json":
                request.accepted_renderer, request.accepted_media_type = JSONRenderer(), "application/json"
        return super().finalize_response(request, response, *args, **kwargs)


def _query(serializer_class, request) -> dict:
    data = {k: v for k, v in request.query_params.items() if k in serializer_class().fields}
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _download(body: bytes, *, content_type: str, name: str, fmt: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}-{timezone.now():%Y%m%d}.{fmt}"'
    return response


PERIOD_PARAMETERS = [
    OpenApiParameter("since", OpenApiTypes.DATETIME, description="区间起 (含), ISO 8601 带时区偏移"),
    OpenApiParameter("until", OpenApiTypes.DATETIME, description="区间止 (不含), ISO 8601 带时区偏移"),
    OpenApiParameter("unit", OpenApiTypes.STR, description="单位代码"),
]


# --- views -------------------------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="督查发现列表 (audit findings)",
        description=(
            "Findings, newest first (by ``found_at``), superseded, dismissed and withdrawn ones included (history). "
            "``since``/``until`` filter on ``found_at``; ``withdrawn=false`` leaves out the findings the data no "
            "longer supports (``withdrawn_at`` set), ``withdrawn=true`` lists only those. Exercises are never "
            "shown; the findings of an obligation "
            "marked not required are (those its data supported when it was marked, SPEC rule 11). ``?format=csv`` "
            "(or ``Accept: text/csv``) and ``?format=xlsx`` export every matching finding, unpaginated, with "
            "Chinese headers."
        ),
        parameters=[
            *PERIOD_PARAMETERS,
            OpenApiParameter("kind", OpenApiTypes.STR, enum=FindingKind.values),
            OpenApiParameter("review", OpenApiTypes.STR, enum=ReviewState.values),
            OpenApiParameter(
                "withdrawn",
                OpenApiTypes.STR,
                enum=["true", "false"],
                description="true: only findings withdrawn by the system (data no longer supports them); "
                "false: only the others. Absent: both.",
            ),
            OpenApiParameter("format", OpenApiTypes.STR, enum=["json", "csv", "xlsx"]),
        ],
        responses={
            (200, "application/json"): FindingSerializer(many=True),
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY, description="CSV, 中文表头"),
            (200, exports.XLSX_CONTENT_TYPE): OpenApiResponse(OpenApiTypes.BINARY, description="XLSX, 中文表头"),
        },
    ),
    review=extend_schema(
        summary="审核督查发现 (confirm or dismiss a finding)",
        request=ReviewInputSerializer,
        responses={200: FindingSerializer},
    ),
)
class FindingViewSet(_StrictNegotiation, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Findings (auditors and admins review; the duty room and district leaders read; others 403)."""

    serializer_class = FindingSerializer
    permission_classes = [AuditPermission]
    renderer_classes = [JSONRenderer, CSVRenderer, XLSXRenderer]
    queryset = stats.findings_visible()

    def list(self, request, *args, **kwargs):
        fmt = request.accepted_renderer.format
        if fmt not in ("csv", "xlsx"):
            return super().list(request, *args, **kwargs)
        findings = self.get_queryset().select_related("incident").iterator(chunk_size=2000)
        if fmt == "csv":
            body, content_type = exports.findings_csv(findings), exports.CSV_CONTENT_TYPE
        else:
            body, content_type = exports.findings_xlsx(findings), exports.XLSX_CONTENT_TYPE
        return _download(body, content_type=content_type, name="findings", fmt=fmt)

    def get_queryset(self):
        qs = stats.findings_visible().select_related("reviewed_by")
        if self.action != "list":
            return qs
        params = _query(FindingQuerySerializer, self.request)
        if params.get("kind"):
            qs = qs.filter(kind=params["kind"])
        if params.get("review"):
            qs = qs.filter(review=params["review"])
        if params.get("withdrawn"):
            qs = qs.filter(withdrawn_at__isnull=params["withdrawn"] == "false")
        unit = _unit_by_code(params.get("unit"))
        if unit is not None:
            qs = qs.filter(unit=unit)
        if params.get("since"):
            qs = qs.filter(found_at__gte=params["since"])
        if params.get("until"):
            qs = qs.filter(found_at__lt=params["until"])
        return qs

    @action(detail=True, methods=["post"], renderer_classes=[JSONRenderer])
    def review(self, request, pk=None):
        finding = self.get_object()
        data = ReviewInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        finding = finding_review(
            finding=finding,
            decision=data.validated_data["decision"],
            reason=data.validated_data["reason"],
            actor=request.user,
            now=timezone.now(),
        )
        return Response(FindingSerializer(finding).data)


@extend_schema_view(
    list=extend_schema(
        summary="报送及时率统计 (timeliness figures per unit)",
        description=(
            "One row per unit over obligations first known in [since, until). Exercises and not-required "
            "obligations excluded. Delays in seconds over the obligations with a filed report (percentile_cont). "
            "Finding counts are of live findings (not superseded, not dismissed, not withdrawn), dated by their "
            "obligation's "
            "first-known time (a signal's 漏报 with no obligation by its ``found_at``). "
            "``roster_gaps`` counts the unit's roster-gap findings found (``found_at``) in the period. "
            "``?format=csv`` or ``Accept: text/csv`` gives CSV, ``?format=xlsx`` XLSX, with Chinese headers and "
            "unit names; English ones when the request's language is English (``Accept-Language: en`` or the "
            "language cookie)."
        ),
        parameters=[
            *PERIOD_PARAMETERS,
            OpenApiParameter("format", OpenApiTypes.STR, enum=["json", "csv", "xlsx"]),
        ],
        responses={
            (200, "application/json"): TimelinessRowSerializer(many=True),
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY, description="CSV, 中文表头 (English on request)"),
            (200, exports.XLSX_CONTENT_TYPE): OpenApiResponse(
                OpenApiTypes.BINARY, description="XLSX, 中文表头 (English on request)"
            ),
        },
    )
)
class TimelinessViewSet(_StrictNegotiation, viewsets.GenericViewSet):
    """Timeliness figures (及时率): same readers as the findings; computed in one SQL statement."""

    permission_classes = [AuditPermission]
    renderer_classes = [JSONRenderer, CSVRenderer, XLSXRenderer]
    serializer_class = TimelinessRowSerializer

    def get_queryset(self):  # the figures are not a model list; only here for the schema generator
        return Unit.objects.none()

    def list(self, request):
        params = _query(PeriodQuerySerializer, request)
        unit = _unit_by_code(params.get("unit"))
        since, until = params.get("since"), params.get("until")
        rows = stats.timeliness_rows(since=since, until=until, unit=unit)
        fmt = request.accepted_renderer.format
        if fmt in ("csv", "xlsx"):
            names = selectors.unit_labels(codes=[r["unit"] for r in rows])
            if fmt == "csv":
                body, content_type = exports.timeliness_csv(rows, unit_names=names), exports.CSV_CONTENT_TYPE
            else:
                body = exports.timeliness_xlsx(rows, unit_names=names, since=since, until=until)
                content_type = exports.XLSX_CONTENT_TYPE
            return _download(body, content_type=content_type, name="timeliness", fmt=fmt)
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(page)


extra_urls: list = []


def register(router) -> None:
    """Register this module's viewsets on the /api/v1/ router."""
    router.register("findings", FindingViewSet, basename="finding")
    router.register("stats/timeliness", TimelinessViewSet, basename="stats-timeliness")
