"""DRF's ``drf_create_token``, with the token on the audit chain: ``token_created`` for a first token,
``token_replaced`` with ``--reset`` (never the key). A user who has a token and no ``--reset`` keeps it: nothing
changes, nothing is recorded."""

from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.authtoken.management.commands import drf_create_token
from rest_framework.authtoken.models import Token

from reporting import config_services
from reporting.management.operator import operator


class Command(drf_create_token.Command):
    def create_user_token(self, username, reset_token):
        user = get_user_model()._default_manager.get_by_natural_key(username)
        token = None if reset_token else Token.objects.filter(user=user).first()
        if token is None:
            token = config_services.token_replace(user=user, actor=operator("drf_create_token"), now=timezone.now())
        return token
