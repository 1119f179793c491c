"""manage.py audit_report: the timeliness figures offline, CSV and XLSX with Chinese headers."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation
from openpyxl import load_workbook

from tests.reporting.test_findings import DAY, WRITTEN_DUE, file, open_incident, recompute

PERIOD = ["--since", "2026-11-28T00:00:00+08:00", "--until", "2026-11-29T00:00:00+08:00"]


@pytest.fixture
def late_written(units, sijing_officer):
    obligation = open_incident(units, sijing_officer).obligations.get()
    file(obligation, "written", WRITTEN_DUE + timedelta(seconds=90), sijing_officer)
    recompute(WRITTEN_DUE + DAY)


def test_csv_to_a_file(late_written, tmp_path):
    out = tmp_path / "report.csv"
    call_command("audit_report", *PERIOD, "--format", "csv", "--output", str(out))
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    header, by_unit = rows[0], {r[0]: r for r in rows[1:]}
    assert header[0] == "单位代码" and "书面报及时率" in header
    sijing = by_unit["sijing"]
    assert sijing[header.index("报送义务数")] == "1"
    assert sijing[header.index("迟报")] == "1"
    assert sijing[header.index("书面报延迟P90(秒)")] == "90"


def test_stays_chinese_whatever_language_is_active(late_written, units, tmp_path):
    units["sijing"].name_en = "Sijing Town"
    units["sijing"].save()
    out = tmp_path / "report.csv"
    with translation.override("en"):
        call_command("audit_report", *PERIOD, "--format", "csv", "--output", str(out), "--unit", "sijing")
    header, row = csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig")))
    assert header[:3] == ["单位代码", "单位名称", "报送义务数"]
    assert row[:2] == ["sijing", "泗泾镇"]


def test_xlsx_to_a_file(late_written, tmp_path):
    out = tmp_path / "report.xlsx"
    call_command("audit_report", *PERIOD, "--format", "xlsx", "--output", str(out), "--unit", "sijing")
    values = list(load_workbook(out)["及时率统计"].values)
    assert values[0][0] == "单位代码"
    assert [row[0] for row in values[1:]] == ["sijing"]
    assert values[1][values[0].index("书面报按时数")] == 0


@pytest.mark.parametrize(
    "args",
    [
        ["--since", "2026-11-28T00:00:00"],
        ["--since", "not a time"],
        ["--since", "2026-11-29T00:00:00Z", "--until", "2026-11-28T00:00:00Z"],
        ["--unit", "nowhere"],
        ["--format", "xlsx"],
    ],
)
def test_bad_arguments_are_refused(units, args):
    with pytest.raises(CommandError):
        call_command("audit_report", *args)
