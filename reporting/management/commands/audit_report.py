"""``manage.py audit_report --since --until --format csv|xlsx [--unit CODE] [--output FILE]``: the timeliness
figures of ``/api/v1/stats/timeliness/`` offline, with the same definitions (``reporting.stats``)."""

from __future__ import annotations

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, no_translations
from django.utils.dateparse import parse_datetime

from reporting import exports, stats
from reporting.models import Unit


def _aware(name: str, value: str | None):
    if value is None:
        return None
    try:
        parsed = parse_datetime(value.strip())
    except ValueError:
        parsed = None
    if parsed is None:
        raise CommandError(f"--{name}: 不是有效的 ISO 8601 时间 (not an ISO 8601 time): {value!r}")
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise CommandError(f"--{name}: 时间必须带时区偏移, 如 2026-11-28T09:15:00+08:00 (a time needs a UTC offset)")
    return parsed


class Command(BaseCommand):
    help = "督查统计导出: timeliness figures per unit (CSV or XLSX, Chinese headers); exercises excluded."

    def add_arguments(self, parser):
        parser.add_argument("--since", help="区间起 (含), ISO 8601 with offset, e.g. 2026-01-01T00:00:00+08:00")
        parser.add_argument("--until", help="区间止 (不含), ISO 8601 with offset")
        parser.add_argument("--format", choices=["csv", "xlsx"], default="csv")
        parser.add_argument("--unit", help="单位代码 (one unit only)")
        parser.add_argument("--output", help="file to write; default standard output (CSV only)")

    # ``reporting.exports`` follows the active language (English for an English API request); this command keeps
    # the Chinese its help promises, whatever language the process has active.
    @no_translations
    def handle(self, *args, **options):
        since, until = _aware("since", options["since"]), _aware("until", options["until"])
        if since is not None and until is not None and since >= until:
            raise CommandError("--until 必须晚于 --since (until must be after since)")
        unit = None
        if options["unit"]:
            unit = Unit.objects.filter(code=options["unit"]).first()
            if unit is None:
                raise CommandError(f"未知单位: {options['unit']} (unknown unit code)")
        if options["format"] == "xlsx" and not options["output"]:
            raise CommandError("XLSX 需要 --output 文件 (XLSX needs --output FILE)")
        rows = stats.timeliness_rows(since=since, until=until, unit=unit)
        names = dict(Unit.objects.values_list("code", "name"))
        if options["format"] == "csv":
            body = exports.timeliness_csv(rows, unit_names=names)
        else:
            body = exports.timeliness_xlsx(rows, unit_names=names, since=since, until=until)
        if options["output"]:
            Path(options["output"]).write_bytes(body)
            self.stderr.write(f"{len(rows)} 行已写入 {options['output']} ({len(rows)} rows written)")
        else:
            out = getattr(self.stdout, "_out", sys.stdout)
            if hasattr(out, "buffer"):
                out.flush()
                out.buffer.write(body)
                out.buffer.flush()
            else:
                out.write(body.decode("utf-8"))
