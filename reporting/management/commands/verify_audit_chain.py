"""``manage.py verify_audit_chain``: walk the audit hash chain and name the first broken event.

The chain shows an event altered, removed or moved, but not events cut from its end, nor a chain rebuilt whole by
someone who may write the table (the hashes have no secret). So the command prints the head (the newest event's id
and hash) to keep outside the database (beat also logs it hourly, ``reporting.tasks.log_audit_chain_head``), and
``--anchor ID:HASH`` checks that a head kept earlier is still in the chain as it was.
"""

from django.core.management.base import BaseCommand, CommandError

from reporting.auditlog import anchor_check, chain_head, chain_verify
from reporting.models import AuditEvent


def _anchor(value: str) -> tuple[int, str]:
    event_id, sep, event_hash = value.partition(":")
    if not sep or not event_id.isdigit() or len(event_hash) != 64:
        raise CommandError(f"--anchor takes ID:HASH as printed by this command (the hash in hex), not {value!r}")
    return int(event_id), event_hash.lower()


class Command(BaseCommand):
    help = "Verify the audit event hash chain; names the first broken event and exits non-zero."

    def add_arguments(self, parser):
        parser.add_argument(
            "--anchor",
            action="append",
            default=[],
            metavar="ID:HASH",
            help="a head printed or logged earlier: fails unless that event is still in the chain with that hash",
        )

    def handle(self, *args, **options):
        anchors = [_anchor(value) for value in options["anchor"]]
        broken = chain_verify()
        if broken is not None:
            event = AuditEvent.objects.filter(pk=broken.event_id).values("kind", "at").first() or {}
            raise CommandError(
                f"audit chain broken at event {broken.event_id} "
                f"({event.get('kind', '?')} {event.get('at', '?')}): {broken.reason}"
            )
        for event_id, event_hash in anchors:
            reason = anchor_check(event_id, event_hash)
            if reason is not None:
                raise CommandError(f"audit chain does not hold its anchor: {reason}")
        head = chain_head()
        if head is None:
            self.stdout.write("audit chain OK (0 events)")
            return
        event_id, event_hash, count = head
        self.stdout.write(f"audit chain OK ({count} events); head {event_id}:{event_hash}")
