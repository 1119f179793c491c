from django.core.management.base import BaseCommand, CommandError

from reporting.auditlog import chain_verify
from reporting.models import AuditEvent


class Command(BaseCommand):
    help = "Verify the audit event hash chain; names the first broken event and exits non-zero."

    def handle(self, *args, **options):
        broken = chain_verify()
        if broken is not None:
            raise CommandError(f"audit chain broken at event {broken.event_id}: {broken.reason}")
        self.stdout.write(f"audit chain OK ({AuditEvent.objects.count()} events)")
