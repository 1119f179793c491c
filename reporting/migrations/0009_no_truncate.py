"""PostgreSQL refuses ``TRUNCATE`` of the audit events and reports. Migration 0004's row triggers stop ``UPDATE`` and
``DELETE``, but ``TRUNCATE`` fires no row trigger, so one statement could still empty the audit trail (SPEC
"Integrity and access") or every filed report (rule 7). The test settings open their connections with
``reporting.allow_truncate=on``, because Django's test runner empties tables between transactional tests with
``TRUNCATE``; no other connection sets it."""

from django.db import migrations

from reporting.migrations._postgres import postgres_only

FORWARD = """
CREATE OR REPLACE FUNCTION reporting_append_only_truncate() RETURNS trigger AS $$
BEGIN
    IF current_setting('reporting.allow_truncate', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION '% is append-only: TRUNCATE is refused', TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER reporting_auditevent_no_truncate BEFORE TRUNCATE ON reporting_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION reporting_append_only_truncate();
CREATE TRIGGER reporting_report_no_truncate BEFORE TRUNCATE ON reporting_report
    FOR EACH STATEMENT EXECUTE FUNCTION reporting_append_only_truncate();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS reporting_auditevent_no_truncate ON reporting_auditevent;
DROP TRIGGER IF EXISTS reporting_report_no_truncate ON reporting_report;
DROP FUNCTION IF EXISTS reporting_append_only_truncate();
"""


class Migration(migrations.Migration):
    dependencies = [("reporting", "0008_relay_one_clock")]

    operations = [postgres_only(FORWARD, BACKWARD)]
