"""PostgreSQL triggers: filed reports and audit events are append-only in the database itself (SPEC rule 7,
"Integrity and access"), not only in the ORM. SQLite (the embedded demo mode) keeps the ORM guard only."""

from django.db import migrations

from reporting.migrations._postgres import postgres_only

FORWARD = """
CREATE OR REPLACE FUNCTION reporting_report_append_only() RETURNS trigger AS $$
BEGIN
    IF OLD.filed_at IS NOT NULL THEN
        RAISE EXCEPTION 'filed reports are never changed or deleted (report %)', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER reporting_report_append_only BEFORE UPDATE OR DELETE ON reporting_report
    FOR EACH ROW EXECUTE FUNCTION reporting_report_append_only();

CREATE OR REPLACE FUNCTION reporting_auditevent_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit events are never changed or deleted (event %)', OLD.id
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER reporting_auditevent_append_only BEFORE UPDATE OR DELETE ON reporting_auditevent
    FOR EACH ROW EXECUTE FUNCTION reporting_auditevent_append_only();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS reporting_report_append_only ON reporting_report;
DROP FUNCTION IF EXISTS reporting_report_append_only();
DROP TRIGGER IF EXISTS reporting_auditevent_append_only ON reporting_auditevent;
DROP FUNCTION IF EXISTS reporting_auditevent_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("reporting", "0003_policy_and_sequence_constraints")]

    operations = [postgres_only(FORWARD, BACKWARD)]
