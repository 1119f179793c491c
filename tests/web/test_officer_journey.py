"""The unit duty officer's journey on the filing form, through Django's test client: a link whose deadlines were
discharged by someone else, a second press of 报送, a session that expired while typing, a CSRF failure. The browser
side of the same journey is in test_officer_browser.py."""

import re

import pytest
from django.utils import timezone

from reporting import obligation_services, report_services
from reporting.links import filing_token
from reporting.web.display import local_input, local_short
from tests.web.conftest import WRITTEN, open_incident

pytestmark = pytest.mark.django_db


@pytest.fixture
def obligation(units, sijing_officer):
    incident = open_incident(sijing_officer, units["sijing"], known_minutes_ago=10, title="泗泾镇某厂房火灾")
    return incident.obligations.get()


def written_post(obligation, **extra):
    return {"kind": "written", "occurred_at": local_input(obligation.incident.occurred_at), **WRITTEN, **extra}


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


# --- a link whose deadlines someone else already discharged ---------------------------------------------------


def test_a_link_opened_after_the_duty_room_filed_says_so_and_lists_the_report(
    client, units, sijing_officer, duty_room, obligation
):
    values = {**WRITTEN, "occurred_at": obligation.incident.occurred_at}
    filed = report_services.report_create(
        obligation=obligation, kind="written", actor=duty_room, now=timezone.now(), **values
    )
    client.force_login(sijing_officer)
    html = client.get(f"/f/{filing_token(obligation.pk)}").content.decode()
    notice = re.search(r'id="discharged-notice".*?</div>', html, re.S)
    assert notice and "口头报和书面报均已报送, 请勿重复报送" in notice.group(0)
    listed = text(re.search(r'id="filed-reports".*?</section>', html, re.S).group(0))
    assert "书面报" in listed and local_short(filed.filed_at) in listed and "区政府总值班室 duty" in listed
    assert f'href="/reports/{filed.pk}/"' in html


def test_a_link_to_a_pending_written_report_has_no_discharged_notice(client, sijing_officer, obligation):
    client.force_login(sijing_officer)
    html = client.get(f"/f/{filing_token(obligation.pk)}").content.decode()
    assert 'id="discharged-notice"' not in html and 'id="filed-reports"' not in html


def test_a_link_to_an_obligation_marked_not_required_says_so_with_the_reason(
    client, sijing_officer, duty_room, obligation
):
    obligation_services.obligation_mark_not_required(
        obligation=obligation, reason="误派: 事发地属车墩镇", actor=duty_room, now=timezone.now()
    )
    client.force_login(sijing_officer)
    html = client.get(f"/f/{filing_token(obligation.pk)}").content.decode()
    notice = text(re.search(r'id="discharged-notice".*?</div>', html, re.S).group(0))
    assert "已标记为无需报送" in notice and "误派: 事发地属车墩镇" in notice


# --- the same form sent twice --------------------------------------------------------------------------------


def shown_submission(client, url: str) -> str:
    """The form is shown (loaded anew) before it is sent; the value a form sends with it, as any other field."""
    assert client.get(url).status_code == 200
    return ""


def test_the_same_form_sent_twice_files_one_follow_up_and_shows_it(client, sijing_officer, obligation):
    """A double tap that beat the page's script, or 报送 again after a slow answer: one report, not two."""
    client.force_login(sijing_officer)
    url = f"/obligations/{obligation.pk}/file/"
    assert client.post(url, written_post(obligation)).status_code == 302
    post = written_post(obligation, kind="follow_up", account="明火已扑灭", submission=shown_submission(client, url))
    first = client.post(url, post)
    again = client.post(url, post, follow=True)
    follow_ups = list(obligation.reports.filed().filter(kind="follow_up"))
    assert len(follow_ups) == 1
    assert first["Location"] == f"/reports/{follow_ups[0].pk}/"
    assert again.redirect_chain == [(first["Location"], 302)]
    assert "重复提交未再报送" in again.content.decode()


def test_a_new_form_may_file_a_second_follow_up(client, sijing_officer, obligation):
    client.force_login(sijing_officer)
    url = f"/obligations/{obligation.pk}/file/"
    client.post(url, written_post(obligation))
    for account in ("续报一", "续报二"):
        post = written_post(obligation, kind="follow_up", account=account, submission=shown_submission(client, url))
        assert client.post(url, post).status_code == 302
    assert [r.sequence for r in obligation.reports.filed().filter(kind="follow_up").order_by("id")] == [1, 2]


def test_a_written_report_filed_meanwhile_by_the_duty_room_is_not_filed_again_and_the_text_is_kept(
    client, sijing_officer, duty_room, obligation
):
    client.force_login(sijing_officer)
    url = f"/f/{filing_token(obligation.pk)}"
    post = written_post(obligation, account="我这边写的经过", submission=shown_submission(client, url))
    filed = report_services.report_create(
        obligation=obligation,
        kind="written",
        actor=duty_room,
        now=timezone.now(),
        **{**WRITTEN, "occurred_at": obligation.incident.occurred_at},
    )
    response = client.post(url, post)
    assert response.status_code == 409
    html = response.content.decode()
    kind_errors = text(" ".join(re.findall(r'class="field-error"[^>]*>(.*?)</p>', html, re.S)))
    assert f"书面报已由 duty 于 {local_short(filed.filed_at)} 报送" in kind_errors and "续报" in kind_errors
    assert "选择一个有效的选项" not in html
    assert "我这边写的经过</textarea>" in html
    assert list(obligation.reports.filed()) == [filed]


def test_the_same_report_from_a_form_loaded_again_is_recognised_and_not_filed_twice(client, sijing_officer, obligation):
    """Back after filing reloads the form (a new submission value): the very same written report sent again goes
    to the one on record instead of a 409 or a second written report; so does the very same follow-up."""
    client.force_login(sijing_officer)
    url = f"/obligations/{obligation.pk}/file/"
    post = written_post(obligation, submission=shown_submission(client, url))
    written = client.post(url, post)
    again = client.post(url, {**post, "submission": shown_submission(client, url)})
    assert again.status_code == 302 and again["Location"] == written["Location"]
    follow_up = written_post(
        obligation, kind="follow_up", account="伤员已送医", submission=shown_submission(client, url)
    )
    first = client.post(url, follow_up)
    second = client.post(url, {**follow_up, "submission": shown_submission(client, url)})
    assert second["Location"] == first["Location"]
    assert [r.kind for r in obligation.reports.filed().order_by("id")] == ["written", "follow_up"]


def typed_by(client, url: str) -> str:
    """The form's ``typed_by`` value as shown to the client's user."""
    html = client.get(url).content.decode()
    return re.search(r'name="typed_by" value="([^"]+)"', html).group(1)


# --- the session ended while typing --------------------------------------------------------------------------


def test_a_report_posted_after_the_session_ended_is_kept_through_login_and_not_filed(
    client, sijing_officer, obligation
):
    url = f"/obligations/{obligation.pk}/file/"
    client.force_login(sijing_officer)
    marker = typed_by(client, url)
    client.logout()  # the session ended while the officer was typing
    post = written_post(obligation, account="会话过期前写好的经过", injuries="3", action="file", typed_by=marker)
    response = client.post(url, post)
    assert response.status_code == 302 and response["Location"].startswith("/login/?next=")
    assert not obligation.reports.exists()
    response = client.post("/login/", {"username": "sijing-officer", "password": "pw-sijing-officer", "next": url})
    assert response["Location"] == url
    form = client.get(url).context["form"]
    assert form.initial["account"] == "会话过期前写好的经过" and form.initial["injuries"] == "3"
    assert not obligation.reports.exists()
    # Shown once: the next visit starts from the incident again.
    assert client.get(url).context["form"].initial.get("account") != "会话过期前写好的经过"


# --- a refused (CSRF) submission -----------------------------------------------------------------------------


@pytest.fixture
def csrf_client(sijing_officer):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(sijing_officer)
    return client


def test_a_refused_csrf_submission_says_so_in_chinese_and_keeps_the_typed_report(csrf_client, obligation):
    url = f"/f/{filing_token(obligation.pk)}"
    post = written_post(obligation, account="校验失败前写好的经过", typed_by=typed_by(csrf_client, url))
    response = csrf_client.post(url, post, headers={"Origin": "http://testserver"})
    assert response.status_code == 403
    html = response.content.decode()
    assert "页面已过期, 未能提交" in html and "DEBUG" not in html
    assert f'id="back-to-form" href="{url}"' in html
    assert not obligation.reports.exists()
    assert csrf_client.get(url).context["form"].initial["account"] == "校验失败前写好的经过"


def test_a_refused_submission_from_a_trusted_origin_keeps_the_typed_report(csrf_client, obligation, settings):
    """Behind a proxy the site's public name is one of CSRF_TRUSTED_ORIGINS, not the host the request reaches."""
    settings.CSRF_TRUSTED_ORIGINS = ["https://tracker.example.org"]
    url = f"/f/{filing_token(obligation.pk)}"
    post = written_post(obligation, account="代理后面写好的经过", typed_by=typed_by(csrf_client, url))
    response = csrf_client.post(url, post, headers={"Origin": "https://tracker.example.org"})
    assert response.status_code == 403 and f'id="back-to-form" href="{url}"' in response.content.decode()
    assert csrf_client.get(url).context["form"].initial["account"] == "代理后面写好的经过"


def test_a_refused_cross_site_submission_keeps_nothing(csrf_client, obligation):
    url = f"/f/{filing_token(obligation.pk)}"
    post = written_post(obligation, account="别处网站塞进来的内容", typed_by=typed_by(csrf_client, url))
    response = csrf_client.post(url, post, headers={"Origin": "https://evil.example"})
    assert response.status_code == 403 and 'id="back-to-form"' not in response.content.decode()
    assert csrf_client.get(url).context["form"].initial.get("account") != "别处网站塞进来的内容"


def test_a_refused_submission_elsewhere_is_explained_in_english_too(csrf_client, duty_room):
    csrf_client.cookies["django_language"] = "en"
    response = csrf_client.post("/incidents/new/", {})
    assert response.status_code == 403
    assert "This page has expired: nothing was submitted" in response.content.decode()


# --- bad input: every refusal at once, nothing lost -----------------------------------------------------------


def test_every_refusal_shows_at_once_and_every_value_is_kept(client, sijing_officer, obligation):
    client.force_login(sijing_officer)
    future = local_input(timezone.now() + timezone.timedelta(hours=3))
    post = written_post(
        obligation, occurred_at=future, location="", contact_phone="1380013800", deaths="-1", account="经过"
    )
    response = client.post(f"/f/{filing_token(obligation.pk)}", post)
    assert response.status_code == 400
    errors = {name: " ".join(messages) for name, messages in response.context["form"].errors.items()}
    assert set(errors) == {"occurred_at", "location", "contact_phone", "deaths"}
    assert "时间不能晚于当前时间" in errors["occurred_at"]
    assert "缺少必报要素: 地点" in errors["location"]
    html = response.content.decode()
    for kept in (f'value="{future}"', 'value="1380013800"', 'value="-1"', "经过</textarea>"):
        assert kept in html
    assert not obligation.reports.exists()


@pytest.mark.parametrize(
    ("case", "minutes", "message"),
    [("too early", -31, "来电时间最多早于登记时间30分钟"), ("future", 2, "来电时间不能晚于登记时间")],
)
def test_a_bad_call_time_shows_with_the_missing_elements_at_once(client, duty_room, obligation, case, minutes, message):
    """The duty officer logging a phoned verbal report (SPEC rule 2) learns of a bad call time and of the elements
    still to ask the caller in one round, as for any other bad time; the call time was named alone, and the
    missing elements only once it was fixed."""
    client.force_login(duty_room)
    call = local_input(timezone.now() + timezone.timedelta(minutes=minutes))
    post = {"kind": "verbal", "occurred_at": local_input(obligation.incident.occurred_at), "location": "泗泾镇某路1号"}
    response = client.post(f"/obligations/{obligation.pk}/file/", {**post, "call_received_at": call})
    assert response.status_code == 400
    errors = {name: " ".join(messages) for name, messages in response.context["form"].errors.items()}
    assert set(errors) == {"call_received_at", "account", "deaths", "injuries", "missing"}
    assert message in errors["call_received_at"]
    assert f'value="{call}"' in response.content.decode()
    assert not obligation.reports.exists()


def test_a_draft_with_a_bad_value_names_only_that_value(client, sijing_officer, obligation):
    client.force_login(sijing_officer)
    post = {"kind": "written", "contact_phone": "12345", "action": "draft"}
    response = client.post(f"/obligations/{obligation.pk}/file/", post)
    assert response.status_code == 400 and list(response.context["form"].errors) == ["contact_phone"]


# --- a kept report is its typist's only ------------------------------------------------------------------------


@pytest.fixture
def colleague(units):
    """Another officer of the same unit, on the same duty-room PC."""
    from reporting.models import Role
    from tests.conftest import make_user

    return make_user("sijing-colleague", Role.UNIT_STAFF, units["sijing"])


def test_a_report_kept_when_the_session_ended_is_not_shown_to_another_user_who_signs_in(
    client, sijing_officer, colleague, obligation
):
    """The officer's session ends while typing and he leaves; a colleague signs in on the same browser: the
    colleague's form must not come filled with the first officer's text, to be filed under the colleague's name."""
    url = f"/obligations/{obligation.pk}/file/"
    client.force_login(sijing_officer)
    shown = client.get(url).content.decode()
    marker = re.search(r'name="typed_by" value="([^"]*)"', shown).group(1)
    client.logout()  # the session ended
    post = written_post(obligation, account="王某写的经过", action="file", typed_by=marker)
    client.post(url, post)
    response = client.post("/login/", {"username": "sijing-colleague", "password": "pw-sijing-colleague", "next": url})
    assert response["Location"] == url
    page = client.get(url)
    assert page.context["form"].initial.get("account") != "王某写的经过"
    assert "王某写的经过" not in page.content.decode() and "已恢复" not in page.content.decode()


def test_a_report_refused_by_csrf_after_another_user_signed_in_is_not_kept_for_that_user(
    sijing_officer, colleague, obligation
):
    """The officer's form is open; a colleague signs in in another tab (the officer's session ends, the CSRF token
    changes); the officer's 报送 is refused: the colleague's session must not keep the officer's text."""
    from django.test import Client

    url = f"/f/{filing_token(obligation.pk)}"
    client = Client(enforce_csrf_checks=True)
    client.force_login(sijing_officer)
    shown = client.get(url).content.decode()
    marker = re.search(r'name="typed_by" value="([^"]*)"', shown).group(1)
    client.force_login(colleague)  # the sign-in in another tab
    post = written_post(obligation, account="王某写的经过", typed_by=marker)
    response = client.post(url, post, headers={"Origin": "http://testserver"})
    assert response.status_code == 403 and 'id="back-to-form"' not in response.content.decode()
    assert client.get(url).context["form"].initial.get("account") != "王某写的经过"


def test_a_report_posted_without_the_forms_marker_is_not_kept(client, sijing_officer, colleague, obligation):
    """A POST that did not come from a form shown to a signed-in user (no typist known) keeps nothing."""
    url = f"/obligations/{obligation.pk}/file/"
    client.post(url, written_post(obligation, account="来历不明的内容", action="file"))
    client.force_login(colleague)
    assert client.get(url).context["form"].initial.get("account") != "来历不明的内容"


def test_the_same_follow_up_filed_on_purpose_an_hour_later_is_a_new_report(client, sijing_officer, obligation):
    """An officer reports at 10:00 that nothing changed (续报: 情况无变化) and, an hour later, again: the second
    follow-up says the same but is a new report (the unit kept reporting), not a resend of the first one."""
    from datetime import timedelta

    from freezegun import freeze_time

    client.force_login(sijing_officer)
    url = f"/obligations/{obligation.pk}/file/"
    client.post(url, written_post(obligation))
    update = written_post(obligation, kind="follow_up", account="情况无变化, 伤员在院观察")
    first = client.post(url, {**update, "submission": shown_submission(client, url)})
    assert first.status_code == 302
    with freeze_time(timezone.now() + timedelta(hours=1), tick=True):
        again = client.post(url, {**update, "submission": shown_submission(client, url)})
        assert again.status_code == 302 and again["Location"] != first["Location"]
    assert [r.sequence for r in obligation.reports.filed().filter(kind="follow_up").order_by("id")] == [1, 2]


def test_a_form_changed_after_back_and_sent_again_is_filed_not_taken_for_a_repeat(client, sijing_officer, obligation):
    """After filing the written report the officer goes back (the page comes from the browser's cache, the same
    submission value), changes it to a follow-up with the news and sends it: that is a new report, not the written
    report sent again; the news must not be dropped."""
    client.force_login(sijing_officer)
    url = f"/obligations/{obligation.pk}/file/"
    post = written_post(obligation, submission=shown_submission(client, url))
    written = client.post(url, post)
    assert written.status_code == 302
    changed = {**post, "kind": "follow_up", "account": "明火已扑灭, 伤员已送医"}
    response = client.post(url, changed)
    assert response.status_code == 302 and response["Location"] != written["Location"]
    follow_up = obligation.reports.filed().get(kind="follow_up")
    assert follow_up.account == "明火已扑灭, 伤员已送医"
    # The very same follow-up sent once more is still recognised.
    assert client.post(url, changed)["Location"] == response["Location"]
    assert obligation.reports.filed().count() == 2
