"""Incidents, obligations, reports, signals and notifications: input serializers validate, output serializers
describe. Rules (deadlines, grading, required elements) live in ``reporting.services``; these only parse."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from reporting import elements, selectors
from reporting.api.fields import (
    E164,
    AwareDateTimeField,
    ModelSerializer,
    Serializer,
    count_field,
    money_field,
    text_field,
)
from reporting.api.serializers import OWN_UNIT_ONLY, UNIT_CODE_ERRORS, unit_code_field
from reporting.models import (
    AuditEvent,
    Channel,
    DeadlineState,
    Domain,
    Grade,
    Incident,
    Obligation,
    ObligationKind,
    Report,
    ReportKind,
    Role,
    Signal,
    SignalSource,
    Unit,
)
from reporting.signal_services import UNLINK_REASON_MAX_LENGTH

# --- output --------------------------------------------------------------------------------------------------


class ObligationSerializer(ModelSerializer):
    unit = serializers.SlugRelatedField(slug_field="code", read_only=True)
    overdue = serializers.SerializerMethodField()

    class Meta:
        model = Obligation
        fields = [
            "id",
            "incident",
            "unit",
            "kind",
            "first_known_at",
            "first_known_channel",
            "declared_first_known_at",
            "verbal_due_at",
            "written_due_at",
            "verbal_filed_at",
            "written_filed_at",
            "verbal_state",
            "written_state",
            "overdue",
            "not_required_reason",
            "not_required_at",
            "city_reported_at",
            "created_at",
        ]
        read_only_fields = fields

    def get_overdue(self, obligation) -> bool:
        """A clock still pending after its due time, at the moment the view read the clock."""
        now = self.context["now"]
        return (obligation.verbal_state == "pending" and now > obligation.verbal_due_at) or (
            obligation.written_state == "pending" and now > obligation.written_due_at
        )


class IncidentSerializer(ModelSerializer):
    obligations = serializers.SerializerMethodField()

    class Meta:
        model = Incident
        fields = [
            "id",
            "number",
            "title",
            "domain",
            "occurred_at",
            "location",
            "summary",
            "deaths",
            "injuries",
            "serious_injuries",
            "missing",
            "direct_loss_yuan",
            "grade",
            "grade_computed",
            "exercise",
            "sensitive",
            "created_at",
            "updated_at",
            "obligations",
        ]
        read_only_fields = fields

    @extend_schema_field(ObligationSerializer(many=True))
    def get_obligations(self, incident):
        """The incident's obligations; unit staff see their own unit's only (another unit's data is not theirs)."""
        user = getattr(self.context.get("request"), "user", None)
        confined = getattr(user, "effective_role", None) == Role.UNIT_STAFF
        obligations = [o for o in incident.obligations.all() if not confined or o.unit_id == user.unit_id]
        return ObligationSerializer(obligations, many=True, context=self.context).data


class ReportSerializer(ModelSerializer):
    unit = serializers.SlugRelatedField(slug_field="code", read_only=True)
    filed_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    draft = serializers.SerializerMethodField()

    class Meta:
        model = Report
        fields = [
            "id",
            "incident",
            "unit",
            "obligation",
            "kind",
            "sequence",
            "draft",
            "call_received_at",
            "filed_at",
            "counted_at",
            "due_at",
            "on_time",
            "delay_seconds",
            "occurred_at",
            "location",
            "account",
            "deaths",
            "injuries",
            "serious_injuries",
            "missing",
            "direct_loss_yuan",
            "measures",
            "contact_name",
            "contact_phone",
            "references",
            "filed_by",
            "created_at",
        ]
        read_only_fields = fields

    def get_draft(self, report) -> bool:
        return report.filed_at is None


class SignalSerializer(ModelSerializer):
    delivered_to = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    domain = serializers.ChoiceField(choices=Domain.choices, allow_blank=True, read_only=True)

    class Meta:
        model = Signal
        fields = [
            "id",
            "source",
            "external_id",
            "received_at",
            "delivered_to",
            "delivered_at",
            "domain",
            "summary",
            "location",
            "deaths",
            "injuries",
            "incident",
            "created_at",
        ]
        read_only_fields = fields


class TimelineEventSerializer(ModelSerializer):
    detail = serializers.JSONField(read_only=True)

    class Meta:
        model = AuditEvent
        fields = ["id", "at", "kind", "actor", "detail"]
        read_only_fields = fields


# --- input ---------------------------------------------------------------------------------------------------

SERIOUS_HELP = (
    "其中重伤人数, 计入受伤人数, 不能多于受伤人数; 按重伤人数定级 (of the injured, those seriously injured: at most "
    "`injuries`; grading counts these, SPEC rule 9)."
)


class IncidentUnitInput(Serializer):
    unit = unit_code_field()
    first_known_at = AwareDateTimeField()
    channel = serializers.ChoiceField(choices=Channel.choices, default=Channel.SELF)


class IncidentCreateInput(Serializer):
    title = text_field(200)
    domain = serializers.ChoiceField(choices=Domain.choices)
    occurred_at = AwareDateTimeField()
    location = text_field(300)
    summary = text_field(5000, required=False, allow_blank=True, default="")
    deaths = count_field(default=0)
    injuries = count_field(default=0)
    serious_injuries = count_field(default=0, help_text=f"{SERIOUS_HELP} Optional, 0 when omitted.")
    missing = count_field(default=0)
    direct_loss_yuan = money_field(default=0)
    grade = serializers.ChoiceField(choices=Grade.choices, allow_null=True, default=None)
    exercise = serializers.BooleanField(default=False)
    sensitive = serializers.BooleanField(default=False)
    units = IncidentUnitInput(many=True, allow_empty=False, max_length=100)


class IncidentUpdateInput(Serializer):
    """PATCH: figures, grade, title, summary (API.md); every change is logged by the service."""

    title = text_field(200, required=False)
    summary = text_field(5000, required=False, allow_blank=True)
    deaths = count_field(required=False)
    injuries = count_field(required=False)
    serious_injuries = count_field(required=False, help_text=f"{SERIOUS_HELP} Unchanged when omitted.")
    missing = count_field(required=False)
    direct_loss_yuan = money_field(required=False)
    grade = serializers.ChoiceField(choices=Grade.choices, required=False, allow_null=True)


class NotRequiredInput(Serializer):
    reason = text_field(2000)


class RestoreInput(NotRequiredInput):
    """撤销无需报送: why the mark was a mistake (kept in the audit log with the mark's own reason)."""


class CityReportInput(Serializer):
    reported_at = AwareDateTimeField()


class FirstKnownInput(Serializer):
    first_known_at = AwareDateTimeField()
    reason = text_field(2000)


class _VisibleReportField(serializers.PrimaryKeyRelatedField):
    """A report the serializer's ``user`` may see (another unit's report is unknown to unit staff)."""

    def get_queryset(self):
        user = getattr(self.parent, "user", None)
        return super().get_queryset() if user is None else selectors.report_list(user=user)


class ReportCreateInput(Serializer):
    """报送或保存草稿的报告 (a report to file, or to save as a draft)."""

    # ``validate`` resolves the obligation the report belongs to in one query (the unit's obligation with its
    # incident and unit) and puts it in ``obligation``. Only when that finds nothing the caller may use does it ask
    # step by step, so the answer names the field at fault as the user may know it: an incident they cannot see is
    # unknown; then an unknown unit, another unit's (unit staff), a unit not responsible for the incident.

    incident = serializers.IntegerField(
        min_value=1,
        max_value=2_147_483_647,
        error_messages={"invalid": "事件编号必须是整数 (incident: an incident id is a whole number)"},
    )
    unit = serializers.CharField(max_length=40, help_text="单位代码 (unit code)")
    kind = serializers.ChoiceField(choices=ReportKind.choices)
    call_received_at = AwareDateTimeField(required=False, allow_null=True, default=None)
    occurred_at = AwareDateTimeField(required=False, allow_null=True)
    # The elements of SPEC rule 8 accept blank text: a blank element is a missing one, and the rule's answer (a 400
    # naming every missing element, the attempt kept for the 漏报 rule) must not be pre-empted by a bare "blank".
    location = text_field(300, required=False, allow_null=True, allow_blank=True)
    account = text_field(5000, required=False, allow_null=True, allow_blank=True)
    deaths = count_field(required=False, allow_null=True)
    injuries = count_field(required=False, allow_null=True)
    serious_injuries = count_field(
        required=False, allow_null=True, default=0, help_text=f"{SERIOUS_HELP} Optional, 0 when omitted or null."
    )
    missing = count_field(required=False, allow_null=True)
    direct_loss_yuan = money_field(required=False, allow_null=True)
    measures = text_field(5000, required=False, allow_null=True, allow_blank=True)
    contact_name = text_field(50, required=False, allow_null=True, allow_blank=True)
    contact_phone = serializers.CharField(
        max_length=20,
        required=False,
        allow_null=True,
        allow_blank=True,
        validators=[E164],
        help_text="E.164, 如 +8617000000001",
    )
    references = _VisibleReportField(queryset=Report.objects.none(), required=False, allow_null=True, default=None)
    draft = serializers.BooleanField(default=False)
    obligation = serializers.IntegerField(
        min_value=1,
        max_value=2_147_483_647,
        required=False,
        allow_null=True,
        default=None,
        error_messages={"invalid": "报送义务编号必须是整数 (obligation: an obligation id is a whole number)"},
        help_text=(
            "报送义务编号 (optional): which obligation of this incident and unit the report is for, e.g. the duty "
            "room's relay to 区委办 and 区府办 when the duty room is also a responsible unit. Omitted: the one whose "
            "clock of this kind is still pending, the unit's report obligation first, then the relay."
        ),
    )

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def validate(self, attrs):
        self._refuse_blank_optional(attrs)
        incident_id, code, wanted = attrs.pop("incident"), attrs.pop("unit"), attrs.pop("obligation")
        confined = getattr(self.user, "effective_role", None) == Role.UNIT_STAFF
        # One query: the duty room may hold two obligations here (its own report and the relay, SPEC rule 13).
        candidates = list(
            Obligation.objects.filter(incident_id=incident_id, unit__code=code)
            .select_related("incident", "unit")
            .order_by("id")
        )
        if not candidates or (confined and candidates[0].unit_id != self.user.unit_id):
            self._refuse(incident_id, code, confined=confined)
        if wanted is not None:
            obligation = next((o for o in candidates if o.pk == wanted), None)
            if obligation is None:
                raise serializers.ValidationError(
                    {
                        "obligation": [
                            f"该报送义务不属于本事件的该单位: {wanted} "
                            f"(not an obligation of incident {incident_id} and unit {code})"
                        ]
                    }
                )
        else:
            obligation = _pick_obligation(candidates, kind=attrs["kind"])
        attrs["obligation"] = obligation
        return attrs

    @staticmethod
    def _refuse_blank_optional(attrs):
        """Blank text in an element the report's kind does not require says nothing: omit it (a filed report only;
        a draft is work in progress). A blank *required* element goes on to the service, which names every missing
        element and keeps the attempt (SPEC rule 8, the 漏报 rule on refused reports)."""
        if attrs.get("draft"):
            return
        required = elements.REQUIRED[attrs["kind"]]
        blank = [
            name
            for name in elements.TEXT
            if name not in required and isinstance(attrs.get(name), str) and not attrs[name].strip()
        ]
        if blank:
            raise serializers.ValidationError(
                {name: ["不能为空: 未掌握的要素请不填 (may not be blank; omit an element not known)"] for name in blank}
            )

    def _refuse(self, incident_id: int, code: str, *, confined: bool):
        if not selectors.incident_list(user=self.user).filter(pk=incident_id).exists():
            raise serializers.ValidationError({"incident": [f"事件不存在: {incident_id} (unknown incident)"]})
        unit = Unit.objects.filter(code=code).first()
        if unit is None:
            raise serializers.ValidationError({"unit": [UNIT_CODE_ERRORS["does_not_exist"].format(value=code)]})
        if confined and unit.pk != self.user.unit_id:
            raise serializers.ValidationError({"unit": [OWN_UNIT_ONLY]})
        raise serializers.ValidationError(
            {"unit": [f"该单位不是本事件的责任单位: {code} (not responsible for this incident)"]}
        )


def _pick_obligation(candidates: list[Obligation], *, kind: str) -> Obligation:
    """The obligation a report names only by incident and unit is for: the one whose clock of that report kind is
    still pending, the unit's report obligation before the duty room's relay; else (nothing pending, or a follow-up
    or final report) the report obligation, the relay only when it is all there is."""
    ordered = sorted(candidates, key=lambda o: (o.kind != ObligationKind.REPORT, o.pk))
    clock = {ReportKind.VERBAL: "verbal_state", ReportKind.WRITTEN: "written_state"}.get(kind)
    if clock is not None:
        pending = [o for o in ordered if getattr(o, clock) == DeadlineState.PENDING]
        if pending:
            return pending[0]
    return ordered[0]


class SignalInput(Serializer):
    source = serializers.ChoiceField(choices=SignalSource.choices)
    external_id = text_field(100)
    received_at = AwareDateTimeField()
    delivered_to = unit_code_field(required=False, allow_null=True, default=None)
    delivered_at = AwareDateTimeField(required=False, allow_null=True, default=None)
    domain = serializers.ChoiceField(choices=Domain.choices, required=False, allow_blank=True, default="")
    summary = text_field(5000, required=False, allow_blank=True, default="")
    location = text_field(300, required=False, allow_blank=True, default="")
    deaths = count_field(default=0)
    injuries = count_field(default=0)
    incident = serializers.PrimaryKeyRelatedField(
        queryset=Incident.objects.all(), required=False, allow_null=True, default=None
    )

    def validate(self, attrs):
        if attrs.get("delivered_at") is not None and attrs.get("delivered_to") is None:
            raise serializers.ValidationError(
                {"delivered_to": ["填写了派送时间时必须指定派送单位 (delivered_at needs delivered_to)"]}
            )
        return attrs


class SignalLinkInput(Serializer):
    incident = serializers.PrimaryKeyRelatedField(queryset=Incident.objects.all())


class SignalUnlinkInput(Serializer):
    reason = text_field(
        UNLINK_REASON_MAX_LENGTH,
        help_text="为何取消关联 (why the link was wrong): kept in the audit trail and shown to auditors.",
    )
