"""Django's ``createsuperuser``, with the new account on the audit chain (``user_added``, actor the command)."""

from django.contrib.auth import get_user_model
from django.contrib.auth.management.commands import createsuperuser
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from reporting import config_services
from reporting.management.operator import operator


class Command(createsuperuser.Command):
    def handle(self, *args, **options):
        users = get_user_model()._default_manager.db_manager(options["database"])
        last = users.aggregate(last=Max("pk"))["last"] or 0
        with transaction.atomic(using=options["database"]):  # the account and its event, or neither
            super().handle(*args, **options)
            for user in users.filter(pk__gt=last).order_by("pk"):
                config_services.user_created_elsewhere(user=user, actor=operator("createsuperuser"), now=timezone.now())
