"""Benchmarks (not tests): `python -m bench <name>`."""

import os
from pathlib import Path
from typing import NamedTuple

DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def database_ensure(url: str) -> None:
    """Create the PostgreSQL database ``url`` names unless it exists (a bench's own database)."""
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


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


def cpu_delta(before: dict, after: dict) -> dict[str, float]:
    """CPU seconds per part between two readings ``{key: (part, seconds)}``, key by key. A process started in
    between counts from zero. One that ended in between took its CPU with it into its parent's ``reaped`` (a reading
    counts the PostgreSQL server's as a part of its own): what it had used before the first reading is taken off its
    part, so only its use in between counts."""
    used: dict[str, float] = {}
    for key, (part, seconds) in after.items():
        used[part] = used.get(part, 0.0) + seconds - before.get(key, (part, 0.0))[1]
    for key, (part, seconds) in before.items():
        if key not in after:
            used[part] = used.get(part, 0.0) - seconds
    return used


def cpu_reading(*, roots: dict[str, list[int]], database: str, own: str, ended: str, server: str | None = None) -> dict:
    """CPU seconds used so far by each process of a run, keyed by pid, with the part it belongs to (for
    ``cpu_delta``): each of ``roots`` (part -> pids) with its descendants; the PostgreSQL backends of ``database``
    ("postgresql"); the backends that ended, ``ended`` (the server's children it waited for, of any database: the
    server cannot tell); the server's own processes (postmaster, WAL writer, checkpointer, …) as ``server``, or not
    at all when it is None; redis-server ("redis"); this process, ``own``. Key "machine": every CPU's busy time,
    whoever used it."""
    table = process_table()
    parts = {pid: part for part, pids in roots.items() for pid in descendants(table, pids)}
    out: dict[object, tuple[str, float]] = {"machine": ("machine", machine_cpu())}
    for pid, proc in table.items():
        postgres = proc.cmdline.startswith("postgres:")
        if pid in parts:
            out[pid] = (parts[pid], proc.cpu)
        elif postgres and f" {database} " in proc.cmdline:
            out[pid] = ("postgresql", proc.cpu)
        elif postgres and " postgres " not in proc.cmdline:  # background processes: their title names no database
            if server:
                out[pid] = (server, proc.cpu)
        elif proc.cmdline.split(" ", 1)[0].endswith("/bin/postgres"):
            if server:
                out[pid] = (server, proc.cpu)
            out["reaped"] = (ended, proc.reaped)
        elif proc.cmdline.startswith("redis-server"):
            out[pid] = ("redis", proc.cpu)
        elif pid == os.getpid():
            out[pid] = (own, proc.cpu)
    return out
