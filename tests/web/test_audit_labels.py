"""The audit page's per-unit table and chart name each unit in the page's language (English name on English pages,
Chinese otherwise, and on English pages the Chinese name for a unit without an English one)."""

import re

import pytest
from django.utils import timezone

from reporting.models import Finding
from reporting.web.audit import LABEL_MAX_WIDTH, chart_rows
from tests.web.conftest import open_incident

pytestmark = pytest.mark.django_db


@pytest.fixture
def figures(units, sijing_officer):
    """泗泾镇 (English name Sijing Town): an obligation; 车墩镇 (Chedun Town) and 区公安分局 (no English name): a
    finding each, so all three have a row."""
    units["sijing"].name_en = "Sijing Town"
    units["sijing"].save()
    units["chedun"].name_en = "Chedun Town"
    units["chedun"].save()
    open_incident(sijing_officer, units["sijing"], known_minutes_ago=75, title="迟")
    for code in ("chedun", "police"):
        Finding.objects.create(kind="held_back", key=f"hb-{code}", unit=units[code], found_at=timezone.now())


def _table_units(html: str) -> list[str]:
    table = re.search(r'<table class="list" id="rates">(.*?)</table>', html, re.S).group(1)
    return re.findall(r"<tr>\s*<td>(.*?)</td>", table)


def _chart(html: str) -> list[tuple[str, str]]:
    """(data-unit, visible label) per unit group of the chart."""
    return re.findall(r'data-unit="([^"]*)">\s*<text[^>]*class="unit-label">(.*?)</text>', html, re.S)


def test_english_page_names_units_in_english(client, auditor, figures):
    client.force_login(auditor)
    client.cookies["django_language"] = "en"
    html = client.get("/audit/").content.decode()
    # Rows stay in unit-code order (chedun, police, sijing); 区公安分局 has no English name.
    names = ["Chedun Town", "区公安分局", "Sijing Town"]
    assert _table_units(html) == names
    assert _chart(html) == [(name, name) for name in names]


@pytest.mark.parametrize("headers", [{}, {"HTTP_ACCEPT_LANGUAGE": "en"}], ids=["default", "english-browser"])
def test_chinese_page_names_units_in_chinese(client, auditor, figures, headers):
    # The pages follow only the language cookie, so an English browser still gets Chinese names.
    client.force_login(auditor)
    html = client.get("/audit/", **headers).content.decode()
    names = ["车墩镇", "区公安分局", "泗泾镇"]
    assert _table_units(html) == names
    assert _chart(html) == [(name, name) for name in names]


def _rate(name: str) -> dict:
    return {"name": name, "obligations": 1, "verbal_on_time_rate": None, "written_on_time_rate": None}


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("泗泾镇", "泗泾镇"),
        ("松江经济技术开发区", "松江经济技术开发区"),  # 18 columns: fits
        ("一二三四五六七八九十一", "一二三四五六七八九…"),  # 22 columns
        ("x" * LABEL_MAX_WIDTH, "x" * LABEL_MAX_WIDTH),
        ("District Public Security Sub-bureau", "District Public Sec…"),
        ("Songjiang Economic and Technological Development Zone", "Songjiang Economic…"),  # no space before "…"
    ],
)
def test_chart_label_is_cut_to_fit_left_of_the_bars(name, label):
    (row,) = chart_rows([_rate(name)])
    assert row["unit"] == name
    assert row["label"] == label


def test_long_english_name_is_whole_in_the_table_and_tooltip(client, auditor, figures, units):
    units["sijing"].name_en = "Songjiang Economic and Technological Development Zone"
    units["sijing"].save()
    client.force_login(auditor)
    client.cookies["django_language"] = "en"
    html = client.get("/audit/").content.decode()
    assert "Songjiang Economic and Technological Development Zone" in _table_units(html)
    assert (
        "Songjiang Economic and Technological Development Zone",
        "Songjiang Economic…<title>Songjiang Economic and Technological Development Zone</title>",
    ) in _chart(html)
