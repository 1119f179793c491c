"""A unit's duty officer puts a roster typed in Excel on the 值班表, in a real browser (Debian's chromium through
Playwright): the template downloaded, filled in, uploaded, previewed, confirmed, then seen on the week view."""

from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone
from openpyxl import load_workbook
from playwright.sync_api import expect

from reporting.models import AuditEvent, Contact, Shift
from reporting.web.display import LOCAL_TZ
from tests.web.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]


def test_an_officer_imports_a_filled_in_template_and_sees_the_shifts_on_the_week(
    page, live_server, units, sijing_officer, tmp_path
):
    Contact.objects.create(unit=units["sijing"], name="李值班", phone="+8617000000011", role="shift_leader")
    login(page, live_server, "sijing-officer", next_path="/roster/sijing/")
    page.click("#import-link a")
    page.wait_for_url(f"{live_server.url}/roster/sijing/import/")

    with page.expect_download() as download:
        page.click("#template-link")
    template = tmp_path / "template.xlsx"
    download.value.save_as(template)
    book = load_workbook(template)
    sheet = book.worksheets[0]
    assert [c.value for c in sheet[1]] == ["开始时间", "结束时间", "岗位", "姓名", "手机号"]
    assert "李值班" in [row[0] for row in book.worksheets[1].values]
    # The officer deletes the example row and types two days of two people: a date cell, and text.
    sheet.delete_rows(2)
    day = timezone.now().astimezone(LOCAL_TZ).date() + timedelta(days=2)
    start = datetime.combine(day, time(8, 30))
    for offset in (0, 1):
        begin = start + timedelta(days=offset)
        sheet.append([begin, begin + timedelta(days=1), "值班员", "王某", None])
        sheet.append(
            [f"{begin:%Y-%m-%d %H:%M}", f"{begin + timedelta(days=1):%Y-%m-%d %H:%M}", "值班长", "李值班", None]
        )
    filled = tmp_path / "泗泾镇值班表.xlsx"
    book.save(filled)

    page.set_input_files("#id_file", str(filled))
    page.click("#import-form button[type=submit]")
    preview = page.locator("#preview-shifts tbody tr")
    expect(preview).to_have_count(4)
    expect(preview.first).to_contain_text(f"{start:%Y-%m-%d} 08:30")
    expect(page.locator("#import-preview")).to_contain_text("李值班")
    assert not Shift.objects.exists()  # a preview writes nothing

    page.click("#import-confirm button[type=submit]")
    page.wait_for_url(f"{live_server.url}/roster/sijing/?from={day.isoformat()}")
    expect(page.locator(".messages")).to_contain_text("已从表格导入 4 个班次")
    shifts = page.locator("#shifts tbody tr")
    expect(shifts).to_have_count(4)
    expect(shifts.first).to_contain_text(f"{start:%Y-%m-%d} 08:30")
    expect(page.locator("#shifts")).to_contain_text("李值班")
    assert Shift.objects.count() == 4
    assert AuditEvent.objects.filter(kind="shift_added", actor="sijing-officer").count() == 4
    expect(page.locator("#roster-changes li")).to_have_count(4)
