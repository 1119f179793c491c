"""A limit on guessing passwords (security review): after LOGIN_FAILURE_LIMIT wrong ones for a username from one
address, even the right one is refused with a clear message; another address, or another user, is not held back.
The admin's sign-in shares the limit."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from reporting.models import User

PASSWORD = "Auditor-Pass-2026"


@pytest.fixture
def person(db, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    cache.clear()
    user = User.objects.create_user(username="shen", password=PASSWORD, role="auditor", is_staff=True)
    yield user
    cache.clear()


def attempt(client, password, *, path="/login/", address="10.0.0.7", username="shen"):
    client.logout()
    return client.post(path, {"username": username, "password": password}, REMOTE_ADDR=address)


@pytest.mark.parametrize("path", ["/login/", "/admin/login/"])
def test_after_the_limit_even_the_right_password_is_refused_from_that_address(client, person, path):
    assert [attempt(client, "wrong", path=path).status_code for _ in range(3)] == [200, 200, 200]
    locked = attempt(client, PASSWORD, path=path)
    assert locked.status_code == 200 and "_auth_user_id" not in client.session
    assert "登录失败次数过多" in locked.content.decode()
    # Another machine, or another account from this one, signs in as usual.
    assert attempt(client, PASSWORD, path=path, address="10.0.0.8").status_code == 302
    other = User.objects.create_user(username="lu", password=PASSWORD, role="auditor", is_staff=True)
    assert attempt(client, PASSWORD, path=path, username=other.username).status_code == 302


def test_fewer_failures_than_the_limit_do_not_lock(client, person):
    for _ in range(2):
        assert attempt(client, "wrong").status_code == 200
    assert attempt(client, PASSWORD).status_code == 302


def test_zero_turns_the_limit_off(client, person, settings):
    settings.LOGIN_FAILURE_LIMIT = 0
    for _ in range(5):
        attempt(client, "wrong")
    assert attempt(client, PASSWORD).status_code == 302
