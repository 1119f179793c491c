"""Sign-in with a limit on guessing (security review): after ``LOGIN_FAILURE_LIMIT`` wrong passwords for one
username from one address, that pair is refused until ``LOGIN_LOCK_SECONDS`` after its first failure, with a message
saying so. The web login and the admin's share it.

The lock is per (username, address), not per username alone, so someone else cannot lock the duty room out of its
own accounts from another machine. Behind a proxy every request comes from the proxy's address: the lock is then
per username, which the limit (10 in 15 minutes by default) keeps from mattering to people who know their password.
Signed-in sessions are never affected.

With the cache unreachable (Redis down, which is also the broker) the limit is not applied and the failure is logged:
people must still be able to sign in and file their reports during a broker outage.
"""

from __future__ import annotations

import hashlib
import logging

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache
from django.utils.translation import gettext_lazy as _
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

LOCKED_MESSAGE = _("登录失败次数过多, 请 %(minutes)d 分钟后再试, 或请管理员协助。")


def _key(request, username: str) -> str:
    address = request.META.get("REMOTE_ADDR", "") if request is not None else ""
    who = hashlib.sha256(f"{username.casefold()}|{address}".encode()).hexdigest()
    return f"login-failures:{who}"


class LoginLimitMixin:
    #: Set when the sign-in was refused for too many failures (the page says so instead of "wrong password").
    locked = False

    def clean(self):
        limit = settings.LOGIN_FAILURE_LIMIT
        if not limit:
            return super().clean()
        key = _key(self.request, self.cleaned_data.get("username") or "")
        if _failures(key) >= limit:
            self.locked = True
            raise forms.ValidationError(
                LOCKED_MESSAGE, code="locked", params={"minutes": max(1, settings.LOGIN_LOCK_SECONDS // 60)}
            )
        try:
            return super().clean()
        except forms.ValidationError:
            _failure_count(key)
            raise


def _failures(key: str) -> int:
    try:
        return cache.get(key) or 0
    except RedisError:
        logger.exception("sign-in limit: the cache is unreachable, the failure count is not checked")
        return 0


def _failure_count(key: str) -> None:
    try:
        if not cache.add(key, 1, timeout=settings.LOGIN_LOCK_SECONDS):
            try:
                cache.incr(key)
            except ValueError:  # expired meanwhile
                cache.add(key, 1, timeout=settings.LOGIN_LOCK_SECONDS)
    except RedisError:
        logger.exception("sign-in limit: the cache is unreachable, a wrong password is not counted")


class LoginForm(LoginLimitMixin, AuthenticationForm):
    pass


class AdminLoginForm(LoginLimitMixin, AdminAuthenticationForm):
    pass
