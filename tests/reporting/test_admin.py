"""The Django admin: every registered model's changelist loads; filed reports and audit events are read-only."""

from datetime import timedelta

import pytest
from django.contrib import admin
from django.urls import reverse
from django.utils import timezone

from reporting import report_services, services
from reporting.models import AuditEvent, Grade, Incident, Report

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def filed_report(units, sijing_officer):
    now = timezone.now()
    incident = services.incident_create(
        actor=sijing_officer,
        now=now,
        title="泗泾镇某厂房火灾",
        domain="production_safety",
        occurred_at=now - timedelta(minutes=20),
        location="泗泾镇某路1号",
        injuries=1,
        units=[{"unit": units["sijing"], "first_known_at": now - timedelta(minutes=10), "channel": "self"}],
    )
    return report_services.report_create(
        obligation=incident.obligations.get(),
        kind="written",
        actor=sijing_officer,
        now=now,
        occurred_at=now - timedelta(minutes=20),
        location="泗泾镇某路1号",
        account="厂房起火",
        deaths=0,
        injuries=1,
        missing=0,
        measures="消防到场",
        contact_name="王某",
        contact_phone="+8617000000001",
    )


def registered():
    return sorted(admin.site._registry, key=lambda model: model._meta.label)


@pytest.mark.parametrize("model", registered(), ids=lambda model: model._meta.label)
def test_changelist_loads_for_every_registered_model(admin_client, filed_report, model):
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    response = admin_client.get(url)
    assert response.status_code == 200
    # Search and filters work too where the admin declares them.
    if admin.site._registry[model].search_fields:
        assert admin_client.get(url, {"q": "sijing"}).status_code == 200


def test_change_page_loads_for_every_registered_model_with_a_row(admin_client, filed_report):
    loaded = set()
    for model in registered():
        obj = model._default_manager.order_by("pk").first()
        if obj is None:
            continue
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[obj.pk])
        assert admin_client.get(url).status_code == 200, model._meta.label
        loaded.add(model._meta.label)
    assert {"reporting.Incident", "reporting.Obligation", "reporting.Report", "reporting.AuditEvent"} <= loaded
    assert {"reporting.Unit", "reporting.User", "reporting.Contact"} <= loaded


def test_filed_report_is_read_only_in_the_admin(admin_client, filed_report):
    change_url = reverse("admin:reporting_report_change", args=[filed_report.pk])
    page = admin_client.get(change_url)
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    assert admin_client.post(change_url, {"account": "改写"}).status_code == 403
    delete_url = reverse("admin:reporting_report_delete", args=[filed_report.pk])
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    assert admin_client.get(reverse("admin:reporting_report_add")).status_code == 403
    assert Report.objects.get(pk=filed_report.pk).account == "厂房起火"


def test_audit_events_are_read_only_in_the_admin(admin_client, filed_report):
    event = AuditEvent.objects.order_by("id").first()
    change_url = reverse("admin:reporting_auditevent_change", args=[event.pk])
    assert b'name="_save"' not in admin_client.get(change_url).content
    assert admin_client.post(change_url, {"actor": "x"}).status_code == 403
    delete_url = reverse("admin:reporting_auditevent_delete", args=[event.pk])
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    changelist = reverse("admin:reporting_auditevent_changelist")
    ids = list(AuditEvent.objects.values_list("pk", flat=True))
    response = admin_client.post(changelist, {"action": "delete_selected", "_selected_action": ids, "post": "yes"})
    assert response.status_code in (200, 302)
    assert AuditEvent.objects.count() == len(ids)
    assert AuditEvent.objects.get(pk=event.pk).actor == event.actor


def incident_form(incident):
    return {
        "title": incident.title,
        "domain": incident.domain,
        "occurred_at_0": timezone.localtime(incident.occurred_at).strftime("%Y-%m-%d"),
        "occurred_at_1": timezone.localtime(incident.occurred_at).strftime("%H:%M:%S"),
        "location": incident.location,
        "summary": "",
        "deaths": 0,
        "injuries": 1,
        "serious_injuries": 0,
        "missing": 0,
        "direct_loss_yuan": 0,
        "obligations-TOTAL_FORMS": 1,
        "obligations-INITIAL_FORMS": 1,
        "obligations-MIN_NUM_FORMS": 0,
        "obligations-MAX_NUM_FORMS": 1000,
        "obligations-0-id": incident.obligations.get().pk,
        "obligations-0-incident": incident.pk,
    }


def test_incident_grade_edit_in_admin_goes_through_the_service(admin_client, filed_report):
    incident = Incident.objects.get(pk=filed_report.incident_id)
    url = reverse("admin:reporting_incident_change", args=[incident.pk])
    form = incident_form(incident)
    # Lower than the computed grade (III for 3 deaths): refused with the form error, nothing changes.
    refused = admin_client.post(url, {**form, "deaths": 3, "grade": Grade.IV})
    assert refused.status_code == 200
    assert "等级不能低于" in refused.content.decode()
    assert Incident.objects.get(pk=incident.pk).deaths == 0
    # A higher grade is accepted and recorded as an audit event.
    accepted = admin_client.post(url, {**form, "grade": Grade.II})
    assert accepted.status_code == 302, accepted.content.decode()[:2000]
    incident.refresh_from_db()
    assert (incident.grade, incident.grade_computed) == (Grade.II, Grade.IV)
    change = AuditEvent.objects.filter(kind="incident_changed").latest("id")
    assert change.actor == "admin"
    assert change.detail["changes"]["grade"] == ["IV", "II"]


def test_serious_injuries_in_admin_grade_and_never_exceed_the_injured(admin_client, filed_report):
    incident = Incident.objects.get(pk=filed_report.incident_id)
    url = reverse("admin:reporting_incident_change", args=[incident.pk])
    form = incident_form(incident)
    refused = admin_client.post(url, {**form, "injuries": 9, "serious_injuries": 10, "grade": Grade.III})
    assert refused.status_code == 200
    assert "不能多于受伤人数" in refused.content.decode()
    incident.refresh_from_db()
    assert (incident.injuries, incident.serious_injuries) == (1, 0)
    accepted = admin_client.post(url, {**form, "injuries": 12, "serious_injuries": 10, "grade": Grade.III})
    assert accepted.status_code == 302, accepted.content.decode()[:2000]
    incident.refresh_from_db()
    assert (incident.injuries, incident.serious_injuries, incident.grade) == (12, 10, Grade.III)
    change = AuditEvent.objects.filter(kind="incident_changed").latest("id")
    assert change.detail["changes"]["serious_injuries"] == [0, 10]


def test_incident_occurrence_after_first_known_is_refused_in_admin(admin_client, filed_report):
    incident = Incident.objects.get(pk=filed_report.incident_id)
    url = reverse("admin:reporting_incident_change", args=[incident.pk])
    later = timezone.localtime(incident.obligations.get().first_known_at) + timedelta(minutes=1)
    form = {**incident_form(incident), "occurred_at_0": later.strftime("%Y-%m-%d"), "grade": Grade.IV}
    form["occurred_at_1"] = later.strftime("%H:%M:%S")
    response = admin_client.post(url, form)
    assert response.status_code == 200
    assert "首次知悉时间 (first_known_at)" in response.content.decode()
    assert Incident.objects.get(pk=incident.pk).occurred_at == incident.occurred_at


def test_a_review_in_the_admin_goes_through_the_audited_review(admin_client, admin_user, filed_report):
    """Confirm or dismiss with a reason, recorded with who and when and appended to the audit chain; a change
    without a reason is refused and changes nothing."""
    from reporting.models import Finding

    finding = Finding.objects.create(
        kind="late",
        key=f"late:o{filed_report.obligation_id}:written",
        unit=filed_report.unit,
        incident=filed_report.incident,
        obligation=filed_report.obligation,
        found_at=filed_report.filed_at,
    )
    url = reverse("admin:reporting_finding_change", args=[finding.pk])
    assert admin_client.get(url).status_code == 200

    refused = admin_client.post(url, {"review": "dismissed", "reason": "  "})
    assert refused.status_code == 200 and "必须填写审核理由" in refused.content.decode()
    finding.refresh_from_db()
    assert finding.review == "open"
    assert not AuditEvent.objects.filter(kind="finding_reviewed").exists()

    response = admin_client.post(url, {"review": "dismissed", "reason": "演练数据误录"})
    assert response.status_code == 302
    finding.refresh_from_db()
    assert (finding.review, finding.reason, finding.reviewed_by) == ("dismissed", "演练数据误录", admin_user)
    event = AuditEvent.objects.get(kind="finding_reviewed")
    assert event.detail["decision"] == "dismissed" and event.actor == admin_user.username


def test_findings_cannot_be_added_or_deleted_in_the_admin(admin_client):
    assert admin_client.get(reverse("admin:reporting_finding_add")).status_code == 403
