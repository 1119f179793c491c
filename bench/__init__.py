"""Benchmarks (not tests): `python -m bench <name>`."""

import os
from pathlib import Path
from typing import NamedTuple

DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def docs_section_write(title: str, text: str) -> None:
    """Replace the section headed ``title`` in docs/benchmarks.md with ``text`` (which starts with that heading), in
    place; append it the first time. Other sections stay as they are."""
    existing = DOCS.read_text(encoding="utf-8") if DOCS.exists() else "# Benchmarks\n"
    text = text.strip() + "\n"
    if title in existing:
        head, _, rest = existing.partition(title)
        nxt = rest.find("\n## ")
        tail = rest[nxt + 1 :] if nxt != -1 else ""
        existing = head + text + ("\n" + tail if tail else "")
    else:
        existing = existing.rstrip("\n") + "\n\n" + text
    DOCS.parent.mkdir(parents=True, exist_ok=True)
    DOCS.write_text(existing, encoding="utf-8")


class Proc(NamedTuple):
    """One process in ``process_table``: CPU seconds are user + system, all its threads."""

    ppid: int
    cpu: float
    reaped: float  # CPU seconds of its children that ended and were waited for (cutime + cstime)
    cmdline: str


def process_table() -> dict[int, Proc]:
    """Every process now, by pid. Linux only (/proc). A process that exits between two readings takes its CPU with
    it, except into its parent's ``reaped``."""
    tick = os.sysconf("SC_CLK_TCK")
    procs = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        cpu, reaped = (int(fields[11]) + int(fields[12])) / tick, (int(fields[13]) + int(fields[14])) / tick
        procs[int(stat.parent.name)] = Proc(int(fields[1]), cpu, reaped, cmdline)
    return procs


def machine_cpu() -> float:
    """CPU seconds every CPU of the machine has spent busy (not idle, not waiting for I/O) since boot."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, Path("/proc/stat").read_text().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def descendants(procs: dict[int, Proc], roots) -> set[int]:
    """The pids in ``roots`` and all their descendants in ``procs`` (from ``process_table``)."""
    found = {pid for pid in roots if pid in procs}
    grew = True
    while grew:
        more = {pid for pid, proc in procs.items() if proc.ppid in found and pid not in found}
        found |= more
        grew = bool(more)
    return found
