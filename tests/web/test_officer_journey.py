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
