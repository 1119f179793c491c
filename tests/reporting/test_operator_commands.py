"""The operator's account commands (createsuperuser, changepassword, drf_create_token) put what they change on the
audit chain, naming the command as the actor; never a password or a token's key."""

import getpass
import json

import pytest
from django.core.management import call_command
from rest_framework.authtoken.models import Token

from reporting.auditlog import chain_verify
from reporting.models import AuditEvent, User

pytestmark = pytest.mark.django_db


def events(kind):
    return list(AuditEvent.objects.filter(kind=kind).order_by("id"))


def test_createsuperuser_records_the_new_account(monkeypatch, capsys):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "Zhiban-room-2026!")
    before = AuditEvent.objects.count()
    call_command("createsuperuser", "--noinput", "--username", "root", "--email", "root@example.org")
    user = User.objects.get(username="root")
    assert user.is_superuser and user.check_password("Zhiban-room-2026!")
    (event,) = events("user_added")
    assert event.object_id == str(user.pk) and event.actor.startswith("manage.py createsuperuser (")
    assert event.detail["user"] == "root" and event.detail["usable_password"] is True
    assert event.detail["is_superuser"] is True
    assert "Zhiban-room-2026!" not in json.dumps(event.detail) and user.password not in json.dumps(event.detail)
    assert AuditEvent.objects.count() == before + 1
    assert chain_verify() is None


def test_createsuperuser_that_fails_records_nothing(monkeypatch):
    User.objects.create_user(username="root", password="x", role="admin")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "Zhiban-room-2026!")
    before = AuditEvent.objects.count()
    with pytest.raises(Exception, match="already taken"):
        call_command("createsuperuser", "--noinput", "--username", "root", "--email", "root@example.org")
    assert AuditEvent.objects.count() == before


def test_changepassword_records_a_changed_password(monkeypatch):
    user = User.objects.create_user(username="duty2", password="Old-password-2026", role="duty_room")
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": "New-password-2026!")
    call_command("changepassword", "duty2")
    user.refresh_from_db()
    assert user.check_password("New-password-2026!")
    (event,) = events("user_changed")
    assert event.actor.startswith("manage.py changepassword (") and event.detail["password"] == "changed"
    assert "New-password-2026!" not in json.dumps(event.detail)
    assert chain_verify() is None


def test_drf_create_token_records_a_first_token_keeps_an_existing_one_and_records_a_reset(capsys):
    user = User.objects.create_user(username="feed2", role="feed")
    call_command("drf_create_token", "feed2")
    first = Token.objects.get(user=user)
    assert first.key in capsys.readouterr().out
    (created,) = events("token_created")
    assert created.object_id == str(user.pk) and created.actor.startswith("manage.py drf_create_token (")
    assert first.key not in json.dumps(created.detail)

    call_command("drf_create_token", "feed2")  # has one: kept, nothing recorded
    assert Token.objects.get(user=user).key == first.key and first.key in capsys.readouterr().out
    assert len(events("token_created")) == 1 and not events("token_replaced")

    call_command("drf_create_token", "--reset", "feed2")
    second = Token.objects.get(user=user)
    assert second.key != first.key and second.key in capsys.readouterr().out
    (replaced,) = events("token_replaced")
    assert replaced.detail == {"user": "feed2"}
    assert chain_verify() is None


def test_drf_create_token_for_an_unknown_user_is_a_clear_error_and_records_nothing():
    before = AuditEvent.objects.count()
    with pytest.raises(Exception, match="user nobody does not exist"):
        call_command("drf_create_token", "nobody")
    assert AuditEvent.objects.count() == before


def test_an_account_whose_event_cannot_be_recorded_is_not_created(monkeypatch):
    """The account and its audit event go together: if the event cannot be appended, createsuperuser leaves no
    account behind (an account with no event is what the audit chain exists to rule out)."""
    from reporting import config_services

    def broken(**kwargs):
        raise RuntimeError("audit chain unavailable")

    monkeypatch.setattr(config_services, "user_created_elsewhere", broken)
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "Zhiban-room-2026!")
    with pytest.raises(RuntimeError):
        call_command("createsuperuser", "--noinput", "--username", "root", "--email", "root@example.org")
    assert not User.objects.filter(username="root").exists()
