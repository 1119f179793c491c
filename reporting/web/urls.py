"""Web pages (board, filing form, auditor page), included at "" by config/urls.py."""

from django.contrib.auth import views as auth_views
from django.urls import path

from reporting.web import (
    audit,
    board,
    filing,
    incident_actions,
    incident_list,
    incidents,
    leaders,
    pages,
    people,
    roster,
    roster_import,
    signals,
)
from reporting.web.login import LoginForm

app_name = "web"

urlpatterns = [
    path("", pages.home, name="home"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="web/login.html", redirect_authenticated_user=True, authentication_form=LoginForm
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(next_page="web:login"), name="logout"),
    path("board/", board.board, name="board"),
    path("board/data.json", board.board_data, name="board-data"),
    path("obligations/", pages.obligations, name="obligations"),
    path("obligations/<int:obligation_id>/file/", filing.file_obligation, name="file"),
    path("f/<str:token>", filing.file_by_token, name="file-link"),
    path("reports/<int:report_id>/", filing.report_detail, name="report"),
    path(
        "obligations/<int:obligation_id>/not-required/", incident_actions.obligation_not_required, name="not-required"
    ),
    path("obligations/<int:obligation_id>/restore/", incident_actions.obligation_restore, name="restore"),
    path("obligations/<int:obligation_id>/first-known/", incident_actions.obligation_first_known, name="first-known"),
    path("obligations/<int:obligation_id>/city-report/", incident_actions.obligation_city_report, name="city-report"),
    path("incidents/", incident_list.incident_list, name="incidents"),
    path("incidents/new/", incidents.incident_new, name="incident-new"),
    path("incidents/<int:incident_id>/", incidents.incident_detail, name="incident"),
    path("incidents/<int:incident_id>/units/", incident_actions.incident_add_unit, name="incident-add-unit"),
    path("incidents/<int:incident_id>/edit/", incident_actions.incident_edit, name="incident-edit"),
    path("signals/", signals.signals, name="signals"),
    path("signals/<int:signal_id>/link/", signals.signal_link, name="signal-link"),
    path("signals/<int:signal_id>/unlink/", signals.signal_unlink, name="signal-unlink"),
    path("roster/", roster.roster_home, name="roster"),
    path("roster/leaders/", leaders.leaders, name="leaders"),
    path("roster/leaders/<int:contact_id>/", leaders.leader_edit, name="leader"),
    path("roster/<slug:code>/", roster.roster_unit, name="roster-unit"),
    path("roster/<slug:code>/shifts/", roster.shift_add, name="shift-add"),
    path("roster/<slug:code>/import/", roster_import.upload, name="roster-import"),
    path("roster/<slug:code>/import/template.xlsx", roster_import.template, name="roster-import-template"),
    path("roster/<slug:code>/import/confirm/", roster_import.confirm, name="roster-import-confirm"),
    path("roster/shifts/<int:shift_id>/delete/", roster.shift_delete, name="shift-delete"),
    path("roster/<slug:code>/people/", people.people, name="people"),
    path("roster/people/<int:contact_id>/", people.person_edit, name="person"),
    path("audit/", audit.audit, name="audit"),
    path("audit/findings/<int:finding_id>/review/", audit.finding_review, name="finding-review"),
]
