"""``manage.py verify_audit_chain``: walk the audit hash chain and name the first broken event."""

from django.core.management.base import BaseCommand, CommandError

from reporting.auditlog import chain_verify
from reporting.models import AuditEvent


class Command(BaseCommand):
    help = "Verify the audit event hash chain; names the first broken event and exits non-zero."

    def handle(self, *args, **options):
        broken = chain_verify()
        if broken is not None:
            event = AuditEvent.objects.filter(pk=broken.event_id).values("kind", "at").first() or {}
            raise CommandError(
                f"audit chain broken at event {broken.event_id} "
                f"({event.get('kind', '?')} {event.get('at', '?')}): {broken.reason}"
            )
        self.stdout.write(f"audit chain OK ({AuditEvent.objects.count()} events)")
