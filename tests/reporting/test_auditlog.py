"""The audit event hash chain (SPEC "Integrity"): it verifies, and tampering in the database is named."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from reporting.auditlog import GENESIS, canonical, chain_verify, digest, event_append
from reporting.models import AuditEvent

NOW = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)
SH = ZoneInfo("Asia/Shanghai")

pytestmark = pytest.mark.django_db


def tamper(sql, params=()):
    """Run raw SQL as an attacker with database access would. ``session_replication_role = replica`` (for this
    test's transaction only) bypasses any append-only trigger, so the verifier is tested with or without one."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql, list(params))


@pytest.fixture
def chain(units):
    """Five events, some with times given in Asia/Shanghai, Chinese text and nested detail."""
    kinds = ["incident_created", "obligation_created", "report_filed", "first_known_corrected", "report_filed"]
    return [
        event_append(
            at=(NOW + timedelta(minutes=i)).astimezone(SH if i % 2 else UTC),
            kind=kind,
            actor="duty",
            obj=units["sijing"],
            detail={"unit": "sijing", "说明": "泗泾镇", "at": NOW + timedelta(seconds=i), "figures": {"deaths": i}},
        )
        for i, kind in enumerate(kinds)
    ]


def test_chain_links_each_event_to_the_previous_one(chain):
    assert chain[0].prev_hash == GENESIS
    assert [e.prev_hash for e in chain[1:]] == [e.hash for e in chain[:-1]]
    assert len({e.hash for e in chain}) == 5
    assert all(len(e.hash) == 64 for e in chain)


def test_hash_is_sha256_of_the_canonical_content(chain):
    stored = AuditEvent.objects.get(pk=chain[2].pk)
    text = canonical(
        at=stored.at,
        kind=stored.kind,
        actor=stored.actor,
        incident_id=None,
        object_type="unit",
        object_id=stored.object_id,
        detail=stored.detail,
        prev_hash=stored.prev_hash,
    )
    assert digest(text) == stored.hash
    assert '"kind":"report_filed"' in text and "泗泾镇" in text


def test_intact_chain_verifies_and_prints_its_head(chain, capsys):
    assert chain_verify() is None
    call_command("verify_audit_chain")
    head = chain[-1]
    head.refresh_from_db()
    assert capsys.readouterr().out.strip() == f"audit chain OK (5 events); head {head.pk}:{head.hash}"


def anchor_of(event) -> str:
    event.refresh_from_db()
    return f"{event.pk}:{event.hash}"


def test_events_cut_from_the_end_are_found_only_against_an_anchor_kept_outside(chain, capsys):
    anchor = anchor_of(chain[-1])
    call_command("verify_audit_chain", anchor=[anchor])  # held as anchored
    tamper("DELETE FROM reporting_auditevent WHERE id >= %s", [chain[3].pk])
    assert chain_verify() is None  # what is left is a valid chain: the cut alone cannot be seen
    with pytest.raises(CommandError, match=rf"anchored event {chain[-1].pk} is gone"):
        call_command("verify_audit_chain", anchor=[anchor])


def test_a_chain_rebuilt_whole_is_found_against_an_anchor(chain):
    anchor = anchor_of(chain[1])
    tamper("UPDATE reporting_auditevent SET hash = %s WHERE id = %s", ["e" * 64, chain[1].pk])
    with pytest.raises(CommandError, match="broken|another hash"):
        call_command("verify_audit_chain", anchor=[anchor])


@pytest.mark.parametrize("value", ["12", "x:abc", "12:" + "a" * 63])
def test_a_malformed_anchor_is_refused_clearly(chain, value):
    with pytest.raises(CommandError, match="--anchor takes ID:HASH"):
        call_command("verify_audit_chain", anchor=[value])


def test_beat_logs_the_head_hourly_as_an_anchor(chain, caplog, settings):
    from reporting.tasks import log_audit_chain_head

    assert settings.CELERY_BEAT_SCHEDULE["log-audit-chain-head"]["schedule"] == 3600.0
    with caplog.at_level("INFO", logger="reporting.tasks"):
        text = log_audit_chain_head()
    assert text == f"audit chain head {anchor_of(chain[-1])} (5 events)"
    assert text in caplog.text


def test_empty_chain_verifies():
    assert chain_verify() is None


@pytest.mark.parametrize(
    "sql",
    [
        """UPDATE reporting_auditevent SET detail = '{"unit": "chedun"}'::jsonb WHERE id = %s""",
        "UPDATE reporting_auditevent SET actor = 'admin' WHERE id = %s",
        "UPDATE reporting_auditevent SET at = at + interval '1 second' WHERE id = %s",
        "UPDATE reporting_auditevent SET kind = 'report_refused' WHERE id = %s",
    ],
    ids=["detail", "actor", "at", "kind"],
)
def test_a_row_altered_in_the_database_is_named(chain, sql):
    target = chain[2]
    tamper(sql, [target.pk])
    broken = chain_verify()
    assert broken is not None
    assert broken.event_id == target.pk
    assert "altered" in broken.reason
    with pytest.raises(CommandError, match=rf"audit chain broken at event {target.pk} \("):
        call_command("verify_audit_chain")


def test_a_row_whose_hash_was_recomputed_breaks_the_next_link(chain):
    """Rewriting a row and its own hash still breaks the chain: the next event no longer points at it."""
    target = chain[1]
    tamper("UPDATE reporting_auditevent SET hash = %s WHERE id = %s", ["f" * 64, target.pk])
    assert chain_verify().event_id == target.pk  # its own content no longer matches
    text = canonical(
        at=target.at,
        kind=target.kind,
        actor=target.actor,
        incident_id=None,
        object_type=target.object_type,
        object_id=target.object_id,
        detail={"forged": True},
        prev_hash=target.prev_hash,
    )
    tamper(
        "UPDATE reporting_auditevent SET detail = %s::jsonb, hash = %s WHERE id = %s",
        ['{"forged": true}', digest(text), target.pk],
    )
    broken = chain_verify()
    assert broken.event_id == chain[2].pk
    assert "deleted or replaced" in broken.reason


def test_a_deleted_row_is_detected(chain):
    tamper("DELETE FROM reporting_auditevent WHERE id = %s", [chain[3].pk])
    broken = chain_verify()
    assert broken.event_id == chain[4].pk
    assert "deleted" in broken.reason
    with pytest.raises(CommandError, match=rf"at event {chain[4].pk} "):
        call_command("verify_audit_chain")


def test_first_row_deleted_is_detected(chain):
    tamper("DELETE FROM reporting_auditevent WHERE id = %s", [chain[0].pk])
    assert chain_verify().event_id == chain[1].pk


def test_the_first_broken_row_is_named_when_several_are(chain):
    tamper("UPDATE reporting_auditevent SET actor = 'x' WHERE id IN (%s, %s)", [chain[1].pk, chain[3].pk])
    assert chain_verify().event_id == chain[1].pk


def test_naive_event_time_is_refused(units):
    with pytest.raises(ValueError, match="timezone-aware"):
        event_append(at=datetime(2026, 11, 28, 9, 0), kind="x")
    assert AuditEvent.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_appenders_keep_one_chain():
    """Eight threads, each with its own connection and transactions, append at once: the advisory lock makes
    every event chain onto the one committed before it, so no two events share a predecessor."""
    import threading

    from django.db import connections, transaction

    barrier = threading.Barrier(8)
    errors = []

    def append(n):
        try:
            barrier.wait(timeout=10)
            for i in range(10):
                with transaction.atomic():
                    event_append(at=NOW + timedelta(seconds=i), kind="concurrent", actor=f"t{n}", detail={"i": i})
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=append, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert AuditEvent.objects.count() == 80
    prevs = list(AuditEvent.objects.values_list("prev_hash", flat=True))
    assert len(set(prevs)) == 80
    assert chain_verify() is None
