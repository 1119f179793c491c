"""值班表 from a spreadsheet: template, upload, preview, confirm. A file with one bad row writes nothing and names
every bad row by its row number and column; confirming creates exactly what was previewed, through the same
service as a shift typed on the roster page (one ``shift_added`` audit event each)."""

import csv
import io
import threading
import time
import zipfile
from datetime import datetime, timedelta

import pytest
from django.core import signing
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connections
from django.test import Client
from freezegun import freeze_time
from openpyxl import Workbook, load_workbook

from reporting import roster_services
from reporting.exports import XLSX_CONTENT_TYPE
from reporting.models import AuditEvent, Contact, Shift
from reporting.web import roster_import, roster_sheet
from reporting.web.display import LOCAL_TZ

pytestmark = pytest.mark.django_db

#: Saturday 2026-11-28 10:00 Asia/Shanghai.
NOW = datetime(2026, 11, 28, 10, 0, tzinfo=LOCAL_TZ)
HEADER = ["开始时间", "结束时间", "岗位", "姓名", "手机号"]
GOOD = ["2026-12-08 08:30", "2026-12-09 08:30", "值班员", "王某", ""]
OTHER = ["2026-12-08 08:30", "2026-12-09 08:30", "值班长", "李值班", ""]
IMPORT = "/roster/sijing/import/"
CONFIRM = "/roster/sijing/import/confirm/"


@pytest.fixture
def people(units, sijing_officer):
    sijing = units["sijing"]
    return {
        "officer": sijing_officer.contact,
        "second": Contact.objects.create(unit=sijing, name="李值班", phone="+8617000000011", role="shift_leader"),
        "gone": Contact.objects.create(
            unit=sijing, name="赵停用", phone="+8617000000012", role="duty_officer", active=False
        ),
        "zhang1": Contact.objects.create(unit=sijing, name="张同名", phone="+8617000000021", role="duty_officer"),
        "zhang2": Contact.objects.create(unit=sijing, name="张同名", phone="+8617000000022", role="duty_officer"),
        "head": Contact.objects.create(unit=sijing, name="孙负责", phone="+8617000000031", role="unit_head"),
    }


def csv_bytes(*rows, header=HEADER, encoding="utf-8") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    for row in [header, *rows] if header else rows:
        writer.writerow(row)
    return out.getvalue().encode(encoding)


def xlsx_bytes(*rows, header=HEADER) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in [header, *rows]:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def upload(client, data: bytes, name: str = "值班表.csv", url: str = IMPORT):
    return client.post(url, {"file": SimpleUploadedFile(name, data)})


def problems(response) -> list[tuple]:
    return [(p.row, p.column, p.message) for p in response.context["problems"]]


def nothing_written():
    return not Shift.objects.exists() and not AuditEvent.objects.exists()


BAD_ROWS = [
    # (row of the file, column, expected words)
    (["2026-12-08 08:30", "2026-12-09 08:30", "值班员", "钱不在", ""], "name", "本单位没有名为"),
    (["2026-12-08 08:30", "2026-12-09 08:30", "值班员", "赵停用", ""], "name", "已停用"),
    (["2026-12-08 08:30", "2026-12-09 08:30", "值班员", "张同名", ""], "name", "手机号"),
    (["2026-12-08 08:30", "2026-12-09 08:30", "值班员", "张同名", "13800138000"], "phone", "手机号"),
    (["2026-12-08 08:30", "2026-12-09 08:30", "值班员", "王某", "12345"], "phone", "有效的电话号码"),
    (["2026-12-08 08:30", "2026-12-09 08:30", "值班员", "", ""], "name", "姓名"),
    (["2026-12-08 08:30", "2026-12-09 08:30", "保安", "王某", ""], "role", "值班员、值班长、带班领导"),
    (["2026-12-08 08:30", "2026-12-09 08:30", "单位负责人", "孙负责", ""], "role", "不是该单位值班表的岗位"),
    (["2026-12-08 08:30", "2026-12-08 08:30", "值班员", "王某", ""], "ends_at", "晚于开始"),
    (["2026-12-09 08:30", "2026-12-08 08:30", "值班员", "王某", ""], "ends_at", "晚于开始"),
    (["2026-12-08 08:30", "2026-12-18 08:30", "值班员", "王某", ""], "ends_at", "7 天"),
    (["明天早上", "2026-12-09 08:30", "值班员", "王某", ""], "starts_at", "2026-12-08 08:00"),
    (["2026-12-08 08:30", "2026-13-09 08:30", "值班员", "王某", ""], "ends_at", "2026-12-08 08:00"),
    (["", "2026-12-09 08:30", "值班员", "王某", ""], "starts_at", "开始时间"),
    (["2100-12-31 08:30", "2101-01-01 08:30", "值班员", "王某", ""], "ends_at", "2100"),
    (["2026-11-27 08:30", "2026-11-28 08:30", "值班员", "王某", ""], "ends_at", "尚未结束"),
    (["2026-12-08 20:00", "2026-12-09 20:00", "值班员", "王某", ""], "starts_at", "已排在同一岗位"),
    (["=HYPERLINK(1)", "2026-12-09 08:30", "值班员", "王某", ""], "starts_at", "公式"),
    (["2026-12-08 08:30", "2026-12-09 08:30", "值班员", "示例 (导入前删除此行)", ""], "name", "示例"),
]


@pytest.mark.parametrize(("row", "column", "words"), BAD_ROWS)
@freeze_time(NOW)
def test_one_bad_row_refuses_the_file_naming_its_row_and_column(
    client, units, sijing_officer, people, row, column, words
):
    # An existing shift for 王某 on the same post overlaps the 20:00 row; it is written before the upload.
    existing = Shift.objects.create(
        unit=units["sijing"],
        contact=people["officer"],
        role="duty_officer",
        starts_at=datetime(2026, 12, 9, 8, 30, tzinfo=LOCAL_TZ),
        ends_at=datetime(2026, 12, 10, 8, 30, tzinfo=LOCAL_TZ),
    )
    client.force_login(sijing_officer)
    response = upload(client, csv_bytes(OTHER, row))
    assert response.status_code == 400
    found = problems(response)
    assert [(r, c) for r, c, _ in found] == [(3, column)], found
    assert words in found[0][2], found
    assert list(Shift.objects.all()) == [existing] and not AuditEvent.objects.exists()
    assert "token" not in response.context and 'id="import-confirm"' not in response.content.decode()


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([GOOD, GOOD], [(3, "starts_at", "与第 2 行重复")]),
        (
            [GOOD, ["2026-12-08 20:00", "2026-12-09 20:00", "值班员", "王某", ""]],
            [(3, "starts_at", "与第 2 行的班次重叠")],
        ),
        # Another post at the same time, or another person on the same post, is no overlap.
        ([GOOD, ["2026-12-08 08:30", "2026-12-09 08:30", "值班长", "王某", ""]], []),
    ],
)
@freeze_time(NOW)
def test_rows_of_one_file_may_not_overlap_for_one_person_and_post(
    client, units, sijing_officer, people, rows, expected
):
    client.force_login(sijing_officer)
    response = upload(client, csv_bytes(*rows))
    found = problems(response)
    assert [(r, c) for r, c, _ in found] == [(r, c) for r, c, _ in expected]
    assert all(words in message for (_, _, message), (_, _, words) in zip(found, expected, strict=True))
    assert response.status_code == (400 if expected else 200)
    assert nothing_written()


@freeze_time(NOW)
def test_every_bad_row_is_listed_not_only_the_first(client, units, sijing_officer, people):
    client.force_login(sijing_officer)
    bad = ["2026-12-08 08:30", "不知道", "保安", "钱不在", ""]
    response = upload(client, csv_bytes(GOOD, bad, OTHER, bad))
    assert [(r, c) for r, c, _ in problems(response)] == [
        (3, "ends_at"),
        (3, "role"),
        (3, "name"),
        (5, "ends_at"),
        (5, "role"),
        (5, "name"),
    ]
    assert nothing_written()


def _too_many():
    rows = []
    start = datetime(2026, 12, 1, 8, 30)
    for n in range(roster_sheet.MAX_ROWS + 1):
        day = start + timedelta(days=n)
        rows.append([f"{day:%Y-%m-%d %H:%M}", f"{day + timedelta(hours=1):%Y-%m-%d %H:%M}", "值班员", "王某", ""])
    return csv_bytes(*rows)


def _zip_bomb():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/sharedStrings.xml", b"0" * (roster_sheet.MAX_UNPACKED + 1))
    return out.getvalue()


def _entity_bomb(entity: str = "lol9"):
    """A workbook whose sheet declares entities: "billion laughs" (``lol9`` expands to a billion bytes) or an
    external one reading a file of the server (``xxe``)."""
    book = Workbook()
    book.active.append(["开始时间"])
    plain = io.BytesIO()
    book.save(plain)
    laughs = "".join(f'<!ENTITY lol{i} "{("&lol%s;" % (i - 1 if i > 1 else "")) * 10}">' for i in range(1, 10))
    dtd = f'<!DOCTYPE w [<!ENTITY lol "lol">{laughs}<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(plain.getvalue())) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":  # openpyxl writes the header inline there
                body = data.decode().split("?>", 1)[-1].replace("<t>开始时间</t>", f"<t>&{entity};</t>")
                assert f"&{entity};" in body
                data = (dtd + body).encode()
            z.writestr(info, data)
    return out.getvalue()


def test_workbooks_are_parsed_with_defusedxml():
    """openpyxl guards against entity attacks only with defusedxml installed (its docs); without it the guard is
    whatever the Python build's expat does."""
    import openpyxl.xml

    assert openpyxl.xml.DEFUSEDXML is True


@pytest.mark.parametrize(
    ("data", "name", "words"),
    [
        (b"", "empty.csv", "文件是空的"),
        (_entity_bomb("lol9"), "laughs.xlsx", "不是表格文件"),
        (_entity_bomb("xxe"), "xxe.xlsx", "不是表格文件"),
        (csv_bytes(), "header-only.csv", "没有班次"),
        (csv_bytes(["a", "b"], header=["甲", "乙"]), "no-header.csv", "表头"),
        (csv_bytes(["2026-12-08 08:30", "王某"], header=["开始时间", "姓名"]), "missing.csv", "结束时间、岗位"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "photo.png", "不是表格文件"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "old.xls", ".xlsx"),
        (b"PK\x03\x04 not really a zip", "broken.xlsx", "不是表格文件"),
        (_zip_bomb(), "bomb.xlsx", "不是表格文件"),
        (b"x" * (1024 * 1024 + 1), "big.csv", "1 MiB"),
    ],
)
@freeze_time(NOW)
def test_a_file_that_is_no_roster_is_refused_whole(client, units, sijing_officer, people, data, name, words):
    client.force_login(sijing_officer)
    response = upload(client, data, name)
    assert response.status_code == 400
    (found,) = problems(response)
    assert found[0] is None and words in found[2], found
    assert nothing_written()


@freeze_time(NOW)
def test_too_many_rows_is_refused_whole(client, units, sijing_officer, people):
    client.force_login(sijing_officer)
    response = upload(client, _too_many())
    assert response.status_code == 400
    (found,) = problems(response)
    assert found[0] is None and str(roster_sheet.MAX_ROWS) in found[2]
    assert nothing_written()


@freeze_time(NOW)
def test_no_file_chosen_is_a_400(client, units, sijing_officer, people):
    client.force_login(sijing_officer)
    response = client.post(IMPORT, {})
    assert response.status_code == 400 and "请选择" in problems(response)[0][2]


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (csv_bytes(GOOD, OTHER), "utf8.csv"),
        (b"\xef\xbb\xbf" + csv_bytes(GOOD, OTHER), "bom.csv"),
        (csv_bytes(GOOD, OTHER, encoding="gb18030"), "excel-zh.csv"),
        (
            csv_bytes(
                ["2026/12/08 08:30", "2026-12-09T08:30", "Duty officer", "王某", "+86 170 0000 0001"],
                ["2026-12-08 08:30:00", "2026-12-09 08:30:00", "shift_leader", "李值班", "17000000011"],
                header=["Starts at", "End", "Post", "Name", "Mobile"],
            ),
            "english.csv",
        ),
        (
            xlsx_bytes(
                [datetime(2026, 12, 8, 8, 30), datetime(2026, 12, 9, 8, 30), "值班员", "王某", None],
                ["2026-12-08 08:30", "2026-12-09 08:30", "值班长", "李值班", 17000000011],
            ),
            "值班表.xlsx",
        ),
    ],
)
@freeze_time(NOW)
def test_the_same_roster_reads_from_csv_in_any_encoding_english_headers_and_excel_cells(
    client, units, sijing_officer, people, data, name
):
    client.force_login(sijing_officer)
    response = upload(client, data, name)
    assert response.status_code == 200, problems(response)
    preview = [(r["row"], r["starts_at"], r["ends_at"], r["role"], r["name"]) for r in response.context["preview"]]
    assert preview == [
        (2, "2026-12-08 08:30", "2026-12-09 08:30", "值班员", "王某"),
        (3, "2026-12-08 08:30", "2026-12-09 08:30", "值班长", "李值班"),
    ]
    assert nothing_written()  # a preview writes nothing


@freeze_time(NOW)
def test_a_title_row_above_the_header_and_blank_rows_are_skipped_and_rows_keep_their_numbers(
    client, units, sijing_officer, people
):
    client.force_login(sijing_officer)
    data = csv_bytes(["泗泾镇 12 月值班表", "", "", "", ""], HEADER, GOOD, ["", "", "", "", ""], OTHER, header=None)
    response = upload(client, data)
    assert [r["row"] for r in response.context["preview"]] == [3, 5]


@freeze_time(NOW)
def test_namesakes_are_told_apart_by_phone(client, units, sijing_officer, people):
    client.force_login(sijing_officer)
    row = ["2026-12-08 08:30", "2026-12-09 08:30", "值班员", "张同名", "170 0000 0022"]
    response = upload(client, csv_bytes(row))
    assert response.status_code == 200
    assert response.context["preview"][0]["phone"] == "+8617000000022"
    client.post(CONFIRM, {"token": response.context["token"]})
    assert Shift.objects.get().contact == people["zhang2"]


@freeze_time(NOW)
def test_a_formula_cell_in_a_workbook_is_refused(client, units, sijing_officer, people):
    client.force_login(sijing_officer)
    data = xlsx_bytes([datetime(2026, 12, 8, 8, 30), "=A2+1", "值班员", "王某", None])
    response = upload(client, data, "f.xlsx")
    assert [(r, c) for r, c, _ in problems(response)] == [(2, "ends_at")]
    assert "公式" in problems(response)[0][2]


@freeze_time(NOW)
def test_confirm_creates_every_previewed_shift_in_one_go_each_audited(client, units, sijing_officer, people):
    client.force_login(sijing_officer)
    response = upload(client, csv_bytes(GOOD, OTHER))
    token = response.context["token"]
    assert f'value="{token}"' in response.content.decode()
    response = client.post(CONFIRM, {"token": token})
    assert response.status_code == 302 and response["Location"] == "/roster/sijing/?from=2026-12-08"
    shifts = list(Shift.objects.order_by("role"))
    assert [(s.contact, s.role, s.starts_at) for s in shifts] == [
        (people["officer"], "duty_officer", datetime(2026, 12, 8, 8, 30, tzinfo=LOCAL_TZ)),
        (people["second"], "shift_leader", datetime(2026, 12, 8, 8, 30, tzinfo=LOCAL_TZ)),
    ]
    events = AuditEvent.objects.filter(kind="shift_added")
    assert events.count() == 2 and {e.actor for e in events} == {"sijing-officer"}
    page = client.get(response["Location"]).content.decode()
    assert "已从表格导入 2 个班次" in page


@freeze_time(NOW)
def test_confirming_twice_creates_the_shifts_once(client, units, sijing_officer, people):
    client.force_login(sijing_officer)
    token = upload(client, csv_bytes(GOOD, OTHER)).context["token"]
    assert client.post(CONFIRM, {"token": token}).status_code == 302
    again = client.post(CONFIRM, {"token": token}, follow=True)
    assert again.status_code == 200 and "已在值班表中" in again.content.decode()
    assert Shift.objects.count() == 2 and AuditEvent.objects.filter(kind="shift_added").count() == 2


@freeze_time(NOW)
def test_a_roster_changed_since_the_preview_is_refused_with_its_rows(client, units, sijing_officer, people):
    client.force_login(sijing_officer)
    token = upload(client, csv_bytes(GOOD, OTHER)).context["token"]
    Contact.objects.filter(pk=people["second"].pk).update(active=False)
    response = client.post(CONFIRM, {"token": token})
    assert response.status_code == 409
    assert [(r, c) for r, c, _ in problems(response)] == [(3, "name")]
    assert nothing_written()


@pytest.mark.parametrize("token", ["", "nonsense", "x:y:z"])
@freeze_time(NOW)
def test_a_tampered_or_missing_confirmation_writes_nothing(client, units, sijing_officer, people, token):
    client.force_login(sijing_officer)
    response = client.post(CONFIRM, {"token": token})
    assert response.status_code == 400 and "重新上传" in problems(response)[0][2]
    assert nothing_written()


@freeze_time(NOW)
def test_a_preview_confirms_only_for_its_unit_user_and_within_the_hour(
    client, units, sijing_officer, duty_room, people
):
    client.force_login(sijing_officer)
    token = upload(client, csv_bytes(GOOD)).context["token"]
    client.force_login(duty_room)  # another user may not confirm what the officer previewed
    assert client.post(CONFIRM, {"token": token}).status_code == 400
    assert client.post("/roster/chedun/import/confirm/", {"token": token}).status_code == 400
    client.force_login(sijing_officer)
    with freeze_time(NOW + timedelta(hours=1, minutes=1)):
        assert client.post(CONFIRM, {"token": token}).status_code == 400
    assert nothing_written()
    # What is confirmed is what was previewed: the rows travel signed, not the file.
    payload = signing.loads(token, salt=roster_import.PREVIEW_SALT)
    assert [row[0] for row in payload["rows"]] == [2]


@freeze_time(NOW)
def test_the_template_has_chinese_headers_an_example_and_the_units_people_and_posts(
    client, units, sijing_officer, people
):
    client.force_login(sijing_officer)
    response = client.get("/roster/sijing/import/template.xlsx")
    assert response.status_code == 200
    assert response["Content-Type"] == XLSX_CONTENT_TYPE
    assert "attachment" in response["Content-Disposition"]
    book = load_workbook(io.BytesIO(response.content))
    roster, ref = book.worksheets
    rows = list(roster.values)
    assert list(rows[0]) == HEADER
    assert rows[1][2] == "值班员" and rows[1][3].startswith("示例")
    assert isinstance(rows[1][0], datetime)
    listed = [r for r in ref.values if r and r[0]]
    names = [r[0] for r in listed]
    assert "王某" in names and "李值班" in names and "陈某" not in names
    assert any(r[0] == "值班员" for r in listed) and any(r[0] == "带班领导" for r in listed)
    # The template as downloaded, with its example row still in it, is refused at that row.
    response = upload(client, response.content, "template.xlsx")
    assert response.status_code == 400 and [(r, c) for r, c, _ in problems(response)] == [(2, "name")]


@freeze_time(NOW)
def test_the_import_speaks_english_on_request(client, units, sijing_officer, people):
    client.force_login(sijing_officer)
    client.post("/i18n/setlang/", {"language": "en", "next": "/roster/"})
    book = load_workbook(io.BytesIO(client.get("/roster/sijing/import/template.xlsx").content))
    assert list(next(book.worksheets[0].values)) == ["Starts at", "Ends at", "Post", "Name", "Mobile"]
    bad = ["2026-12-08 08:30", "2026-12-09 08:30", "保安", "钱不在", ""]
    response = upload(client, csv_bytes(GOOD, bad))
    page = response.content.decode()
    messages = [m for _, _, m in problems(response)]
    assert any("No one" in m for m in messages) and any("Duty officer" in m for m in messages), messages
    assert "Row" in page and "本单位没有" not in page


@pytest.mark.parametrize(
    ("persona", "unit", "status"),
    [
        ("sijing_officer", "sijing", 200),
        ("outsider", "sijing", 404),  # another unit's staff
        ("duty_room", "sijing", 200),
        ("duty_room", "chedun", 200),
        ("admin_user", "sijing", 200),
        ("leader", "sijing", 404),  # reads the roster, does not edit it
        ("auditor", "sijing", 404),
        ("feed", "sijing", 404),
    ],
)
@freeze_time(NOW)
def test_who_may_import(request, client, units, people, persona, unit, status):
    user = request.getfixturevalue(persona)
    client.force_login(user)
    base = f"/roster/{unit}/import/"
    assert client.get(base).status_code == status
    assert client.get(base + "template.xlsx").status_code == status
    response = upload(client, csv_bytes(GOOD), url=base)
    assert response.status_code == (status if status == 404 else (400 if unit == "chedun" else 200))
    if status == 200 and unit == "sijing":
        response = client.post(base + "confirm/", {"token": response.context["token"]})
        assert response.status_code == 302 and Shift.objects.count() == 1
        assert AuditEvent.objects.get(kind="shift_added").actor == user.username
    else:
        assert client.post(base + "confirm/", {"token": "x"}).status_code == (404 if status == 404 else 400)
        assert nothing_written()
    roster = client.get(f"/roster/{unit}/")
    if roster.status_code == 200:
        assert (f'href="{base}"' in roster.content.decode()) == (status == 200)


def test_signed_out_is_sent_to_sign_in(client, units):
    assert client.get(IMPORT).status_code == 302
    assert client.post(CONFIRM, {"token": "x"}).status_code == 302


@pytest.mark.django_db(transaction=True)
def test_the_same_preview_confirmed_twice_at_once_is_written_once(units, sijing_officer, monkeypatch):
    """A double click sends two confirmations at the same moment. Both pass the checks; without the unit's lock
    both would write (neither sees the other's rows before it commits). The first is slowed down after its first
    shift so the second surely runs meanwhile: it waits, then finds the shifts there and writes nothing."""
    start = datetime.now(LOCAL_TZ).replace(minute=0, second=0, microsecond=0) + timedelta(days=2)
    rows = [
        [f"{day:%Y-%m-%d %H:%M}", f"{day + timedelta(hours=12):%Y-%m-%d %H:%M}", "值班员", "王某", ""]
        for day in (start + timedelta(hours=12 * n) for n in range(3))
    ]
    client = Client()
    client.force_login(sijing_officer)
    token = upload(client, csv_bytes(*rows)).context["token"]
    create = roster_services.shifts_create

    def slow_create(**kwargs):
        created = create(**kwargs)
        time.sleep(0.3)
        return created

    monkeypatch.setattr(roster_services, "shifts_create", slow_create)
    barrier = threading.Barrier(2)
    answers, errors = [], []

    def confirm():
        try:
            mine = Client()
            mine.force_login(sijing_officer)
            barrier.wait(timeout=10)
            answers.append(mine.post(CONFIRM, {"token": token}).status_code)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=confirm) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == [] and answers == [302, 302]
    assert Shift.objects.count() == 3 and AuditEvent.objects.filter(kind="shift_added").count() == 3
