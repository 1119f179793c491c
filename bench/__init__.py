"""Benchmarks (not tests): `python -m bench <name>`."""

from pathlib import Path

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
