"""值班表 pages: a unit keeps its own roster and sees its 双人在岗 gaps ahead; the duty room sees every unit's."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone
from freezegun import freeze_time

from notifications.roster import on_duty
from reporting import roster_services
from reporting.models import AuditEvent, Contact, ContactRole, Shift
from reporting.web.display import LOCAL_TZ, local_input

pytestmark = pytest.mark.django_db

#: Saturday 2026-11-28 10:00 Asia/Shanghai.
NOW = datetime(2026, 11, 28, 10, 0, tzinfo=LOCAL_TZ)


@pytest.fixture
def people(units, sijing_officer):
    second = Contact.objects.create(unit=units["sijing"], name="李值班", phone="+8617000000011", role="shift_leader")
    return {"officer": sijing_officer.contact, "second": second}


def shift(unit, contact, start, hours=24, role=ContactRole.DUTY_OFFICER):
    return Shift.objects.create(
        unit=unit, contact=contact, role=role, starts_at=start, ends_at=start + timedelta(hours=hours)
    )


def add_body(contact, start, hours=24, days=1, role="duty_officer", every=1):
    return {
        "contact": str(contact.pk),
        "role": role,
        "starts_at": local_input(start),
        "ends_at": local_input(start + timedelta(hours=hours)),
        "days": str(days),
        "every": str(every),
    }


@freeze_time(NOW)
def test_unit_staff_land_on_their_own_roster_with_this_weeks_gaps(client, units, sijing_officer, people):
    day = NOW.replace(hour=0)
    shift(units["sijing"], people["officer"], day, hours=24 * 7)
    shift(units["sijing"], people["second"], day, hours=24 * 6)  # the last day has one person only
    client.force_login(sijing_officer)
    response = client.get("/roster/", follow=True)
    assert response.redirect_chain == [("/roster/sijing/", 302)]
    page = response.content.decode()
    assert "2026-11-28 — 2026-12-04" in page
    assert [(g["starts_at"], g["ends_at"], g["on_post"]) for g in response.context["gaps"]] == [
        ("2026-12-04 00:00", "2026-12-05 00:00", 1)
    ]
    assert "仅 1 人在岗" in page and "李值班" in page


@freeze_time(NOW)
def test_a_week_with_no_roster_is_one_gap_and_week_paging_moves_it(client, units, sijing_officer, people):
    client.force_login(sijing_officer)
    response = client.get("/roster/sijing/?from=2026-12-07")
    assert response.context["first"].isoformat() == "2026-12-07"
    (gap,) = response.context["gaps"]
    assert (gap["starts_at"], gap["ends_at"], gap["on_post"], gap["hours"]) == (
        "2026-12-07 00:00",
        "2026-12-14 00:00",
        0,
        168.0,
    )
    assert "无人值班" in response.content.decode()


@pytest.mark.parametrize("bad", ["", "yesterday", "2026-13-01", "9999-12-31", "0001-01-01", "%00"])
@freeze_time(NOW)
def test_a_bad_week_shows_this_week(client, units, sijing_officer, bad):
    client.force_login(sijing_officer)
    response = client.get("/roster/sijing/", {"from": bad})
    assert response.status_code == 200 and response.context["first"].isoformat() == "2026-11-28"


@freeze_time(NOW)
def test_unit_staff_add_a_week_of_shifts_in_one_go(client, units, sijing_officer, people):
    client.force_login(sijing_officer)
    start = NOW.replace(hour=8, minute=30) + timedelta(days=1)
    response = client.post("/roster/sijing/shifts/", add_body(people["second"], start, days=7, role="shift_leader"))
    assert response.status_code == 302 and response["Location"] == "/roster/sijing/?from=2026-11-29"
    shifts = list(Shift.objects.order_by("starts_at"))
    assert len(shifts) == 7 and {s.contact for s in shifts} == {people["second"]}
    assert [s.starts_at for s in shifts] == [start + timedelta(days=d) for d in range(7)]
    assert all(s.ends_at - s.starts_at == timedelta(hours=24) and s.role == "shift_leader" for s in shifts)
    events = AuditEvent.objects.filter(kind="shift_added")
    assert events.count() == 7 and {e.actor for e in events} == {"sijing-officer"}


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"ends_at": "2026-11-28T09:59"}, "ends_at", "尚未结束"),
        ({"days": "0"}, "days", ""),
        ({"days": "32"}, "days", ""),
        ({"every": "0"}, "every", ""),
        ({"every": "8"}, "every", ""),
        ({"role": "district_leader"}, "role", ""),
        ({"starts_at": "2026-11-30T08:30", "ends_at": "2026-11-29T08:30"}, "ends_at", "晚于开始"),
        ({"starts_at": "2026-11-29T08:30", "ends_at": "2026-12-06T08:31"}, "ends_at", "7 天"),
        ({"starts_at": "明天早上"}, "starts_at", "有效的日期时间"),
        ({"contact": "999999"}, "contact", "本单位"),
        # A month of shifts from the last days of the calendar ran past the year 9999: a 500, nothing said.
        ({"starts_at": "9999-12-30T08:30", "ends_at": "9999-12-31T08:30", "days": "31"}, "ends_at", "2100"),
        # One the week pages (2000 to 2100) could never show, nor remove.
        ({"starts_at": "2101-01-01T08:30", "ends_at": "2101-01-02T08:30"}, "ends_at", "2100"),
        ({"starts_at": "2100-12-25T08:30", "ends_at": "2100-12-26T08:30", "days": "7"}, "days", "2100"),
    ],
)
@freeze_time(NOW)
def test_a_refused_shift_keeps_what_was_typed_and_writes_nothing(
    client, units, sijing_officer, people, change, field, message
):
    client.force_login(sijing_officer)
    body = {**add_body(people["second"], NOW + timedelta(days=1)), **change}
    response = client.post("/roster/sijing/shifts/", body)
    assert response.status_code == 400
    form = response.context["form"]
    assert field in form.errors and message in " ".join(form.errors[field])
    assert form.data["starts_at"] == body["starts_at"]
    assert not Shift.objects.exists() and not AuditEvent.objects.exists()


@freeze_time(NOW)
def test_another_units_person_is_not_offered_nor_accepted(client, units, sijing_officer, people):
    stranger = Contact.objects.create(unit=units["chedun"], name="陈某", phone="+8617000000077", role="duty_officer")
    client.force_login(sijing_officer)
    page = client.get("/roster/sijing/").content.decode()
    assert "李值班" in page and "陈某" not in page
    response = client.post("/roster/sijing/shifts/", add_body(stranger, NOW + timedelta(days=1)))
    assert response.status_code == 400 and "contact" in response.context["form"].errors
    assert not Shift.objects.exists()


@freeze_time(NOW)
def test_another_units_roster_is_404_to_unit_staff(client, units, sijing_officer, outsider, people):
    future = shift(units["sijing"], people["officer"], NOW + timedelta(days=1))
    client.force_login(outsider)
    assert client.get("/roster/sijing/").status_code == 404
    assert (
        client.post("/roster/sijing/shifts/", add_body(people["officer"], NOW + timedelta(days=2))).status_code == 404
    )
    assert client.post(f"/roster/shifts/{future.pk}/delete/").status_code == 404
    assert Shift.objects.count() == 1


@freeze_time(NOW)
def test_leaders_and_auditors_read_but_do_not_edit(client, units, leader, auditor, people, sijing_officer):
    future = shift(units["sijing"], people["officer"], NOW + timedelta(days=1))
    for reader in (leader, auditor):
        client.force_login(reader)
        response = client.get("/roster/sijing/")
        assert response.status_code == 200 and response.context["form"] is None
        assert 'id="shift-form"' not in response.content.decode()
        assert client.post("/roster/sijing/shifts/", add_body(people["officer"], NOW)).status_code == 404
        assert client.post(f"/roster/shifts/{future.pk}/delete/").status_code == 404
    assert Shift.objects.count() == 1


@freeze_time(NOW)
def test_removing_a_coming_shift_is_audited_and_an_ended_one_is_history(client, units, sijing_officer, people):
    coming = shift(units["sijing"], people["second"], NOW + timedelta(hours=2))
    ended = shift(units["sijing"], people["second"], NOW - timedelta(hours=30))
    client.force_login(sijing_officer)
    response = client.post(f"/roster/shifts/{coming.pk}/delete/")
    assert response.status_code == 302 and not Shift.objects.filter(pk=coming.pk).exists()
    assert AuditEvent.objects.get(kind="shift_removed").detail["name"] == "李值班"
    response = client.post(f"/roster/shifts/{ended.pk}/delete/")
    assert response.status_code == 409 and "不能删除" in response.content.decode()
    assert Shift.objects.filter(pk=ended.pk).exists()


@freeze_time(NOW)
def test_taking_someone_off_post_ends_their_shift_now_and_keeps_the_hours_on_post(
    client, units, sijing_officer, people
):
    """A shift under way has been used by the chasing (at 09:00 these two were on post, no gap): taking the person
    off post ends the shift now instead of erasing it, so the week's coverage still shows what the chasing saw."""
    handover = NOW.replace(hour=8, minute=30)
    running = shift(units["sijing"], people["second"], handover)
    shift(units["sijing"], people["officer"], handover)
    client.force_login(sijing_officer)
    response = client.post(f"/roster/shifts/{running.pk}/delete/")
    assert response.status_code == 302
    running.refresh_from_db()
    assert (running.starts_at, running.ends_at) == (handover, NOW)
    assert not on_duty(unit=units["sijing"], at=NOW - timedelta(hours=1)).gap
    assert on_duty(unit=units["sijing"], at=NOW).gap
    gaps = [(g["starts_at"], g["on_post"]) for g in client.get("/roster/sijing/").context["gaps"]]
    assert gaps[:2] == [("2026-11-28 00:00", 0), ("2026-11-28 10:00", 1)]
    event = AuditEvent.objects.get(kind="shift_ended")
    assert event.detail["name"] == "李值班" and event.detail["planned_ends_at"] == "2026-11-29T00:30:00Z"
    assert not AuditEvent.objects.filter(kind__in=["shift_removed", "shift_added"]).exists()
    assert "提前结束班次" in client.get("/roster/sijing/").content.decode()  # the change log says what happened
    # An ended shift is history by now, as any other; one not yet begun is removed.
    assert client.post(f"/roster/shifts/{running.pk}/delete/").status_code == 409


@freeze_time(NOW)
def test_duty_room_sees_every_unit_worst_first_and_edits_any(client, units, duty_room, people):
    # 泗泾镇 has two on post all week; 车墩镇 one person now; the others nobody.
    day = NOW.replace(hour=0)
    shift(units["sijing"], people["officer"], day, hours=24 * 8)
    shift(units["sijing"], people["second"], day, hours=24 * 8)
    chedun = Contact.objects.create(unit=units["chedun"], name="陈某", phone="+8617000000077", role="duty_officer")
    shift(units["chedun"], chedun, day, hours=24)
    client.force_login(duty_room)
    response = client.get("/roster/")
    rows = {r["unit"].code: r for r in response.context["rows"]}
    assert rows["sijing"]["short_now"] is False and rows["sijing"]["week_hours"] == 0
    assert rows["sijing"]["on_post"] == ["李值班", "王某"]
    assert rows["chedun"]["short_now"] is True and rows["chedun"]["day_hours"] == 24.0
    assert rows["chedun"]["on_post"] == ["陈某"]
    assert response.context["rows"][-1]["unit"].code == "sijing"
    assert response.context["short_now"] == len(units) - 3  # not 泗泾镇, nor 区委办 and 区府办 (no roster here)
    start = NOW + timedelta(days=1)
    response = client.post("/roster/chedun/shifts/", add_body(chedun, start))
    assert response.status_code == 302
    assert Shift.objects.filter(unit=units["chedun"], starts_at=start).exists()
    assert AuditEvent.objects.get(kind="shift_added").actor == "duty"


@freeze_time(NOW)
def test_an_inactive_person_leaves_a_gap(client, units, duty_room, people):
    day = NOW.replace(hour=0)
    shift(units["sijing"], people["officer"], day, hours=24 * 8)
    shift(units["sijing"], people["second"], day, hours=24 * 8)
    Contact.objects.filter(pk=people["second"].pk).update(active=False)
    client.force_login(duty_room)
    rows = {r["unit"].code: r for r in client.get("/roster/").context["rows"]}
    assert rows["sijing"]["short_now"] is True and rows["sijing"]["on_post"] == ["王某"]


def test_deactivating_someone_keeps_the_hours_they_were_on_post(client, units, sijing_officer, duty_room, people):
    """Marking a person inactive takes them off post from then on, not before: the week's coverage still shows the
    hours they were on post (the chasing counted them then), and their shift stays listed, marked inactive."""
    day = NOW.replace(hour=0)
    shift(units["sijing"], people["officer"], day, hours=24 * 7)
    kept = shift(units["sijing"], people["second"], day, hours=24 * 7)
    stopped = NOW - timedelta(hours=2)  # 08:00
    with freeze_time(stopped):
        roster_services.contact_update(
            contact=people["second"], changes={"active": False}, actor=sijing_officer, now=stopped
        )
    people["second"].refresh_from_db()
    assert people["second"].deactivated_at == stopped
    event = AuditEvent.objects.get(kind="contact_changed")
    assert event.detail["changed"] == {"active": [True, False]}
    assert event.detail["deactivated_at"] == "2026-11-28T00:00:00Z"
    with freeze_time(NOW):
        assert on_duty(unit=units["sijing"], at=NOW).gap  # the chasing skips them now
        client.force_login(sijing_officer)
        response = client.get("/roster/sijing/")
        assert [(g["starts_at"], g["ends_at"], g["on_post"]) for g in response.context["gaps"]] == [
            ("2026-11-28 08:00", "2026-12-05 00:00", 1)
        ]
        assert kept.pk in [r["shift"].pk for r in response.context["rows"]]
        assert "已停用" in response.content.decode()
        client.force_login(duty_room)
        rows = {r["unit"].code: r for r in client.get("/roster/").context["rows"]}
        assert rows["sijing"]["short_now"] is True and rows["sijing"]["on_post"] == ["王某"]
    # Active again at 12:00: on post from then on; the hours in between stay a gap.
    back = NOW + timedelta(hours=2)
    with freeze_time(back):
        roster_services.contact_update(contact=people["second"], changes={"active": True}, actor=None, now=back)
        people["second"].refresh_from_db()
        assert (people["second"].deactivated_at, people["second"].reactivated_at) == (stopped, back)
        assert AuditEvent.objects.filter(kind="contact_changed").last().detail["reactivated_at"] == (
            "2026-11-28T04:00:00Z"
        )
        client.force_login(sijing_officer)
        gaps = client.get("/roster/sijing/").context["gaps"]
        assert [(g["starts_at"], g["ends_at"], g["on_post"]) for g in gaps] == [
            ("2026-11-28 08:00", "2026-11-28 12:00", 1)
        ]


def test_feeds_have_no_roster(client, feed, units):
    client.force_login(feed)
    assert client.get("/roster/").status_code == 404
    assert client.get("/roster/sijing/").status_code == 404


def test_the_add_form_starts_at_the_next_handover(client, units, sijing_officer, people):
    with freeze_time(datetime(2026, 11, 28, 7, 0, tzinfo=LOCAL_TZ)):
        client.force_login(sijing_officer)
        form = client.get("/roster/sijing/").context["form"]
        assert form.initial["starts_at"] == datetime(2026, 11, 28, 8, 30, tzinfo=LOCAL_TZ)
    with freeze_time(datetime(2026, 11, 28, 23, 59, tzinfo=LOCAL_TZ)):
        form = client.get("/roster/sijing/").context["form"]
        assert form.initial["starts_at"] == datetime(2026, 11, 29, 8, 30, tzinfo=LOCAL_TZ)
        assert form.initial["ends_at"] == datetime(2026, 11, 30, 8, 30, tzinfo=LOCAL_TZ)
    assert timezone.now() > NOW  # the clock is back


@freeze_time(NOW)
def test_the_roster_speaks_english_on_request(client, units, sijing_officer, people):
    client.force_login(sijing_officer)
    client.post("/i18n/setlang/", {"language": "en", "next": "/roster/"})
    page = client.get("/roster/sijing/").content.decode()
    assert "Duty roster" in page and "nobody on duty" in page and "Number of shifts" in page
    assert "值班表" not in page.split("<main", 1)[1]


@freeze_time(NOW)
def test_the_duty_rooms_own_roster_offers_duty_room_staff(client, units, duty_room):
    staff = Contact.objects.create(
        unit=units["duty-room"], name="值班室甲", phone="+8617000000031", role="duty_room_staff"
    )
    client.force_login(duty_room)
    form = client.get("/roster/duty-room/").context["form"]
    assert [value for value, _ in form.fields["role"].choices][0] == "duty_room_staff"
    response = client.post(
        "/roster/duty-room/shifts/", add_body(staff, NOW + timedelta(hours=1), role="duty_room_staff")
    )
    assert response.status_code == 302 and Shift.objects.get().role == "duty_room_staff"
    assert "duty_room_staff" not in [v for v, _ in client.get("/roster/sijing/").context["form"].fields["role"].choices]


@freeze_time(NOW)
def test_the_roster_page_shows_its_change_log_for_auditors(client, units, sijing_officer, auditor, people):
    client.force_login(sijing_officer)
    client.post("/roster/sijing/shifts/", add_body(people["second"], NOW + timedelta(days=1), role="shift_leader"))
    added = Shift.objects.get()
    client.post(f"/roster/shifts/{added.pk}/delete/")
    client.post(
        f"/roster/people/{people['second'].pk}/",
        {"name": "李值班", "role": "shift_leader", "phone": "+8617000000012", "email": "", "active": "on"},
    )
    # Another unit's change is not in 泗泾镇's log.
    chedun = Contact.objects.create(unit=units["chedun"], name="陈某", phone="+8617000000077", role="duty_officer")
    client.force_login(auditor)
    client.get("/roster/chedun/")
    roster_services.contact_update(contact=chedun, changes={"phone": "+8617000000078"}, actor=None, now=NOW)
    changes = client.get("/roster/sijing/").context["changes"]
    assert [c["label"] for c in changes] == ["人员信息变更", "删除班次", "排班"]
    assert changes[0]["span"] == "手机: +8617000000011 → +8617000000012"
    assert changes[1]["what"] == "李值班 · 值班长" and changes[1]["span"] == "2026-11-29 10:00 — 2026-11-30 10:00"
    assert {c["actor"] for c in changes} == {"sijing-officer"}


@freeze_time(NOW)
def test_the_board_counts_units_short_on_post_now(client, units, duty_room, people):
    day = NOW.replace(hour=0)
    shift(units["sijing"], people["officer"], day)
    client.force_login(duty_room)
    # Five units keeping a roster (not 区委办, 区府办), nobody has two on post (泗泾镇 has one).
    assert client.get("/board/data.json").json()["units_short"] == 5
    shift(units["sijing"], people["second"], day, role=ContactRole.SHIFT_LEADER)
    shift(units["sijing"], people["second"], day)  # one person on two roles is still one
    data = client.get("/board/data.json").json()
    assert data["units_short"] == 4
    page = client.get("/board/").content.decode()
    assert 'id="count-short" href="/roster/">4<' in page
    units["chedun"].active = False
    units["chedun"].save()
    assert client.get("/board/data.json").json()["units_short"] == 3


@freeze_time(NOW)
def test_the_leadership_offices_keep_no_roster_here_and_are_not_counted_short(client, units, duty_room, people):
    """区委办 and 区府办 receive the duty room's relay (SPEC rule 13); they are not reporting units and keep no duty
    roster here, so the board's units short on post and the coverage ranking leave them out, and the page says so."""
    client.force_login(duty_room)
    rostered = [code for code in units if code not in ("qwb", "qfb")]
    assert client.get("/board/data.json").json()["units_short"] == len(rostered)  # nobody has shifts yet
    response = client.get("/roster/")
    assert [r["unit"].code for r in response.context["rows"]] == rostered
    assert response.context["short_now"] == len(rostered)
    page = response.content.decode()
    assert 'id="not-rostered"' in page and "区委办公室" in page and "区政府办公室" in page


@freeze_time(NOW)
def test_unit_staff_are_warned_of_a_gap_in_the_next_24_hours(client, units, sijing_officer, people):
    client.force_login(sijing_officer)
    shift(units["sijing"], people["officer"], NOW - timedelta(hours=2), hours=48)
    shift(units["sijing"], people["second"], NOW - timedelta(hours=2), hours=20)  # leaves at 04:00 tomorrow
    response = client.get("/obligations/")
    assert response.context["roster_gap"] == {"hours": 6.0, "from": "2026-11-29 04:00"}
    assert 'id="roster-gap"' in response.content.decode() and "/roster/sijing/" in response.content.decode()
    shift(units["sijing"], people["second"], NOW + timedelta(hours=18), hours=24)
    response = client.get("/obligations/")
    assert response.context["roster_gap"] is None and 'id="roster-gap"' not in response.content.decode()


@freeze_time(NOW)
def test_a_shift_added_after_it_began_is_flagged_in_the_change_log(client, units, duty_room, people):
    roster_services.shifts_create(
        unit=units["sijing"],
        contact=people["second"],
        role="duty_officer",
        starts_at=NOW - timedelta(hours=3),
        ends_at=NOW - timedelta(hours=1),
        actor=duty_room,
        now=NOW,
    )
    roster_services.shifts_create(
        unit=units["sijing"],
        contact=people["second"],
        role="duty_officer",
        starts_at=NOW + timedelta(hours=1),
        ends_at=NOW + timedelta(hours=5),
        actor=duty_room,
        now=NOW,
    )
    client.force_login(duty_room)
    response = client.get("/roster/sijing/")
    assert [c["retroactive"] for c in response.context["changes"]] == [False, True]
    assert response.content.decode().count('<span class="tag late">事后补排</span>') == 1


@freeze_time(NOW)
def test_the_roster_pages_have_plain_titles(client, units, duty_room, people):
    client.force_login(duty_room)
    titles = {
        "/roster/": "值班表",
        "/roster/sijing/": "值班表 · 泗泾镇",
        "/roster/sijing/people/": "人员名单 · 泗泾镇",
        f"/roster/people/{people['second'].pk}/": "李值班 · 泗泾镇",
    }
    for url, title in titles.items():
        assert f"<title>{title} · 松江区总值班室</title>" in client.get(url).content.decode(), url


@freeze_time(NOW)
def test_two_teams_taking_turns_every_other_day(client, units, sijing_officer, people):
    client.force_login(sijing_officer)
    start = NOW.replace(hour=8, minute=30) + timedelta(days=1)
    response = client.post("/roster/sijing/shifts/", add_body(people["officer"], start, days=4, every=2))
    assert response.status_code == 302
    starts = [s.starts_at for s in Shift.objects.order_by("starts_at")]
    assert starts == [start + timedelta(days=d) for d in (0, 2, 4, 6)]
    # The other team fills the days between: from the first handover on, one person is always on post, never none
    # (so still a 双人在岗 gap: each team here is one person).
    client.post("/roster/sijing/shifts/", add_body(people["second"], start + timedelta(days=1), days=4, every=2))
    page = client.get("/roster/sijing/?from=2026-11-29")
    assert [(g["starts_at"], g["ends_at"], g["on_post"]) for g in page.context["gaps"]] == [
        ("2026-11-29 00:00", "2026-11-29 08:30", 0),
        ("2026-11-29 08:30", "2026-12-06 00:00", 1),
    ]


@freeze_time(NOW)
def test_two_people_with_the_same_name_are_two_on_post(client, units, duty_room, people):
    namesake = Contact.objects.create(unit=units["sijing"], name="王某", phone="+8617000000021", role="shift_leader")
    day = NOW.replace(hour=0)
    shift(units["sijing"], people["officer"], day)
    shift(units["sijing"], namesake, day, role=ContactRole.SHIFT_LEADER)
    client.force_login(duty_room)
    rows = {r["unit"].code: r for r in client.get("/roster/").context["rows"]}
    assert rows["sijing"]["short_now"] is False and rows["sijing"]["on_post"] == ["王某", "王某"]


@freeze_time(NOW)
def test_the_same_week_added_twice_is_refused_and_another_post_is_not(client, units, sijing_officer, people):
    """The same person twice on one post at once (a form sent twice, a week entered again) would stay on post after
    one of the two is removed, and still be chased. A second post at the same time (值班长 and 带班领导) is fine."""
    client.force_login(sijing_officer)
    start = NOW.replace(hour=8, minute=30) + timedelta(days=1)
    week = add_body(people["second"], start, days=7, role="shift_leader")
    assert client.post("/roster/sijing/shifts/", week).status_code == 302
    again = client.post(
        "/roster/sijing/shifts/", add_body(people["second"], start + timedelta(days=6), role="shift_leader")
    )
    assert again.status_code == 400 and "同一岗位" in " ".join(again.context["form"].errors["starts_at"])
    assert Shift.objects.count() == 7
    other_post = client.post("/roster/sijing/shifts/", {**week, "role": "leader_on_shift"})
    assert other_post.status_code == 302 and Shift.objects.count() == 14
    # Repeats longer than their interval would overlap one another.
    overlapping = client.post("/roster/sijing/shifts/", add_body(people["officer"], start, hours=36, days=2))
    assert overlapping.status_code == 400 and "every" in overlapping.context["form"].errors
