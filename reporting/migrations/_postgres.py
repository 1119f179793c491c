"""SQL that only PostgreSQL runs (triggers); SQLite, the embedded demo mode, keeps the ORM's guards only. Django's
migration loader skips modules whose names start with ``_``, so this is shared code, not a migration."""

from django.db import migrations


def postgres_only(forward: str, backward: str) -> migrations.RunPython:
    """A reversible operation that runs ``forward`` (``backward`` when unapplied) on PostgreSQL and nothing else."""

    def run(sql: str):
        def apply(apps, schema_editor):
            if schema_editor.connection.vendor == "postgresql":
                schema_editor.execute(sql, params=None)

        return apply

    return migrations.RunPython(run(forward), run(backward))
