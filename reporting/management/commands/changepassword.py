"""Django's ``changepassword``, with the change on the audit chain (``user_changed``, password: changed)."""

import getpass

from django.contrib.auth import get_user_model
from django.contrib.auth.management.commands import changepassword
from django.db import transaction
from django.utils import timezone

from reporting import config_services
from reporting.management.operator import operator


class Command(changepassword.Command):
    def handle(self, *args, **options):
        with transaction.atomic(using=options["database"]):  # the new password and its event, or neither
            result = super().handle(*args, **options)  # raises CommandError when nothing changed
            username = options["username"] or getpass.getuser()
            user = get_user_model()._default_manager.db_manager(options["database"]).get_by_natural_key(username)
            config_services.user_password_changed(user=user, actor=operator("changepassword"), now=timezone.now())
        return result
