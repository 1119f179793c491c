"""Organisation serializers: units, contacts, shifts, users (API.md "Organisation and users").

These resources are plain records with no rules beyond field validation, so one serializer describes both the
input and the output of each. Incidents, reports and signals have separate input and output serializers
(``serializers_incidents``).
"""

from __future__ import annotations

from django.contrib.auth import password_validation
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from rest_framework import serializers
from rest_framework.authtoken.models import Token
from rest_framework.validators import UniqueValidator

from reporting import config_services, roster_services
from reporting.api.fields import E164, AwareDateTimeField, ModelSerializer, text_field
from reporting.models import Contact, ContactRole, Domain, Role, Shift, Unit, UnitKind, User

OWN_UNIT_ONLY = "报送单位人员只能填写本单位 (unit staff may name only their own unit)"
UNIT_CODE_ERRORS = {
    "does_not_exist": "单位不存在: {value} (unknown unit)",
    "invalid": "单位代码无效 (invalid unit code)",
}


def unit_code_field(**kwargs) -> serializers.SlugRelatedField:
    """A unit referred to by its ``code`` (API.md: units are referred to by code)."""
    kwargs.setdefault("queryset", Unit.objects.all())
    return serializers.SlugRelatedField(slug_field="code", error_messages=UNIT_CODE_ERRORS, **kwargs)


def domain_list_field(**kwargs) -> serializers.ListField:
    return serializers.ListField(child=serializers.ChoiceField(choices=Domain.choices), max_length=10, **kwargs)


class UnitSerializer(ModelSerializer):
    code = serializers.SlugField(
        max_length=40, validators=[UniqueValidator(Unit.objects.all(), message="单位代码已存在 (code already used)")]
    )
    name = text_field(100)
    name_en = text_field(200, required=False, allow_blank=True)
    kind = serializers.ChoiceField(choices=UnitKind.choices)
    domains = domain_list_field(required=False)

    class Meta:
        model = Unit
        fields = ["code", "name", "name_en", "kind", "vertical", "domains", "active"]

    def validate_code(self, value):
        """A unit's code is permanent (API.md: units are referred to by code): feeds deliver to it, the audit chain
        and the roster's change log name units by it. A PATCH may repeat it, not change it."""
        if self.instance is not None and value != self.instance.code:
            raise serializers.ValidationError("单位代码创建后不能修改 (a unit's code is permanent)")
        return value

    def create(self, validated_data):
        """Through the service, which records the new unit (``unit_added``)."""
        return config_services.unit_create(
            unit=Unit(**validated_data), actor=self.context["request"].user, now=timezone.now()
        )

    def update(self, instance, validated_data):
        """Through the service, which records what changed (``unit_changed``; nothing for a no-op)."""
        return config_services.unit_update(
            unit=instance, changes=validated_data, actor=self.context["request"].user, now=timezone.now()
        )


class ContactSerializer(ModelSerializer):
    unit = unit_code_field()
    name = text_field(50)
    phone = serializers.CharField(
        max_length=20, required=False, validators=[E164], help_text="E.164, 如 +8617000000001"
    )
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True)
    role = serializers.ChoiceField(choices=ContactRole.choices)
    portfolio = domain_list_field(required=False)
    deactivated_at = AwareDateTimeField(
        read_only=True,
        allow_null=True,
        help_text="停用时间: when the person was last made inactive (set by the server when ``active`` becomes false); "
        "the roster coverage counts their shifts on post before it. Null if never, or before it was kept.",
    )
    reactivated_at = AwareDateTimeField(
        read_only=True,
        allow_null=True,
        help_text="重新启用时间: when the person was last made active again after being made inactive; null if never.",
    )

    class Meta:
        model = Contact
        fields = [
            "id",
            "unit",
            "name",
            "phone",
            "email",
            "role",
            "portfolio",
            "is_default",
            "notify_on_grade",
            "active",
            "deactivated_at",
            "reactivated_at",
        ]

    def create(self, validated_data):
        return roster_services.contact_create(**validated_data, actor=self.context["request"].user, now=timezone.now())

    def update(self, instance, validated_data):
        """Through the service, which records what changed."""
        return roster_services.contact_update(
            contact=instance, changes=validated_data, actor=self.context["request"].user, now=timezone.now()
        )


class ShiftSerializer(ModelSerializer):
    unit = unit_code_field()
    contact = serializers.PrimaryKeyRelatedField(queryset=Contact.objects.all())
    role = serializers.ChoiceField(choices=ContactRole.choices)
    starts_at = AwareDateTimeField()
    ends_at = AwareDateTimeField()

    class Meta:
        model = Shift
        fields = ["id", "unit", "contact", "role", "starts_at", "ends_at"]

    def create(self, validated_data):
        """Through the service (the rules and the audit event live there); the API adds one shift at a time."""
        (shift,) = roster_services.shifts_create(
            **validated_data, actor=self.context["request"].user, now=timezone.now()
        )
        return shift


class UserSerializer(ModelSerializer):
    username = serializers.CharField(
        max_length=150,
        validators=[
            UnicodeUsernameValidator(),
            UniqueValidator(User.objects.all(), message="用户名已存在 (username already used)"),
        ],
    )
    role = serializers.ChoiceField(choices=Role.choices)
    unit = unit_code_field(required=False, allow_null=True)
    contact = serializers.PrimaryKeyRelatedField(queryset=Contact.objects.all(), required=False, allow_null=True)
    active = serializers.BooleanField(source="is_active", required=False)
    password = serializers.CharField(
        write_only=True, required=False, min_length=8, max_length=128, style={"input_type": "password"}
    )

    class Meta:
        model = User
        fields = ["id", "username", "role", "unit", "contact", "active", "password"]

    def validate_password(self, value: str) -> str:
        """The same rules as every password (AUTH_PASSWORD_VALIDATORS: long enough, not a common one)."""
        try:
            password_validation.validate_password(value, user=self.instance)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(list(exc.messages)) from exc
        return value

    def validate(self, attrs):
        instance = self.instance
        role = attrs.get("role", instance.role if instance else None)
        unit = attrs["unit"] if "unit" in attrs else (instance.unit if instance else None)
        if role == Role.UNIT_STAFF and unit is None:
            raise serializers.ValidationError({"unit": ["报送单位人员必须指定单位 (unit is required for unit_staff)"]})
        if role != Role.UNIT_STAFF and unit is not None:
            raise serializers.ValidationError(
                {"unit": ["该角色不属于某一单位, 单位须为空 (unit must be empty for this role)"]}
            )
        return attrs

    def create(self, validated_data):
        """Through the service (``user_added``: the account, and whether it has a password; never the password)."""
        password = validated_data.pop("password", None)
        user = User(**validated_data)
        user.set_password(password) if password else user.set_unusable_password()
        return config_services.user_create(user=user, actor=self.context["request"].user, now=timezone.now())

    def update(self, instance, validated_data):
        """Through the service (``user_changed``: each changed field, and a new password only as changed)."""
        password = validated_data.pop("password", None)
        return config_services.user_update(
            user=instance,
            changes=validated_data,
            password=password,
            actor=self.context["request"].user,
            now=timezone.now(),
        )


class UserWithTokenSerializer(UserSerializer):
    """The 201 of ``POST /users/`` and ``POST /users/{id}/token/``: the token is shown only then."""

    token = serializers.SerializerMethodField()

    class Meta(UserSerializer.Meta):
        fields = [*UserSerializer.Meta.fields, "token"]

    def get_token(self, user) -> str:
        return Token.objects.get(user=user).key
