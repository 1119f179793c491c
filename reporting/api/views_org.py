"""Units, contacts, shifts and users (API.md "Organisation and users")."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from reporting import config_services, roster_services, selectors
from reporting.api.base import ApiViewSet
from reporting.api.permissions import ADMINS, DUTY, EVERYONE, READERS
from reporting.api.serializers import (
    ContactSerializer,
    ShiftSerializer,
    UnitSerializer,
    UserSerializer,
    UserWithTokenSerializer,
)
from reporting.models import User


class ListRetrieveMixin:
    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request, *args, **kwargs):
        return Response(self.get_serializer(self.get_object()).data)


class CreateMixin:
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        serializer.save()
        return Response(serializer.data, status=status.HTTP_201_CREATED)


class PatchMixin:
    def partial_update(self, request, *args, **kwargs):
        serializer = self.get_serializer(self.get_object(), data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        serializer.save()
        return Response(serializer.data)


@extend_schema_view(
    list=extend_schema(summary="报送单位列表 (units)"),
    retrieve=extend_schema(
        summary="报送单位 (a unit, by code)",
        parameters=[OpenApiParameter("code", str, OpenApiParameter.PATH, pattern=r"^[-a-zA-Z0-9_]+$")],
    ),
    create=extend_schema(summary="新建单位 (duty room, admin)"),
    partial_update=extend_schema(
        summary="修改单位 (duty room, admin)",
        parameters=[OpenApiParameter("code", str, OpenApiParameter.PATH, pattern=r"^[-a-zA-Z0-9_]+$")],
    ),
)
class UnitViewSet(ListRetrieveMixin, CreateMixin, PatchMixin, ApiViewSet):
    serializer_class = UnitSerializer
    lookup_field = "code"
    lookup_value_regex = r"[-a-zA-Z0-9_]+"
    roles = {"list": EVERYONE, "retrieve": EVERYONE, "create": DUTY, "partial_update": DUTY}
    idempotent_actions = ("create",)

    def get_queryset(self):
        return selectors.unit_list()


@extend_schema_view(
    list=extend_schema(summary="联系人列表 (contacts)"),
    retrieve=extend_schema(summary="联系人 (a contact)"),
    create=extend_schema(summary="新建联系人 (duty room, admin)"),
    partial_update=extend_schema(summary="修改联系人 (duty room, admin)"),
    destroy=extend_schema(summary="删除联系人 (duty room, admin); 已有通知记录的联系人不能删除 (409)"),
)
class ContactViewSet(ListRetrieveMixin, CreateMixin, PatchMixin, ApiViewSet):
    """API.md: the duty room and admin write (units keep their own people on the pages). Every change is an audit
    event (``reporting.roster_services``)."""

    serializer_class = ContactSerializer
    roles = {"list": READERS, "retrieve": READERS, "create": DUTY, "partial_update": DUTY, "destroy": DUTY}
    idempotent_actions = ("create",)

    def get_queryset(self):
        return selectors.contact_list(user=self.request.user)

    def destroy(self, request, *args, **kwargs):
        roster_services.contact_delete(contact=self.get_object(), actor=request.user, now=timezone.now())
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(summary="值班表 (shifts)"),
    retrieve=extend_schema(summary="一个班次 (a shift)"),
    create=extend_schema(summary="排班 (duty room, admin); ends_at 必须晚于 starts_at, 最长 7 天"),
    destroy=extend_schema(summary="删除班次 (duty room, admin)"),
)
class ShiftViewSet(ListRetrieveMixin, CreateMixin, ApiViewSet):
    """API.md: the duty room and admin write (units keep their own roster on the pages). Changes are audit events
    (``reporting.roster_services``)."""

    serializer_class = ShiftSerializer
    roles = {"list": READERS, "retrieve": READERS, "create": DUTY, "destroy": DUTY}
    idempotent_actions = ("create",)

    def get_queryset(self):
        return selectors.shift_list(user=self.request.user)

    def destroy(self, request, *args, **kwargs):
        roster_services.shift_delete(shift=self.get_object(), actor=request.user, now=timezone.now())
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(summary="用户列表 (admin only)"),
    retrieve=extend_schema(summary="用户 (admin only)"),
    partial_update=extend_schema(summary="修改用户 (admin only)"),
)
class UserViewSet(ListRetrieveMixin, PatchMixin, ApiViewSet):
    serializer_class = UserSerializer
    roles = {"*": ADMINS}
    # No Idempotency-Key here: the 201 of either shows an API token, and a kept answer would be a second copy of it
    # for a day. A client that lost the answer asks for a new token (the lost one is void).

    def get_queryset(self):
        return User.objects.select_related("unit").order_by("id")

    @extend_schema(
        summary="新建用户 (admin only); 响应中的 token 仅显示这一次",
        request=UserSerializer,
        responses={201: UserWithTokenSerializer},
    )
    @transaction.atomic
    def create(self, request, *args, **kwargs):
        serializer = UserSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        user = serializer.save()
        config_services.token_replace(user=user, actor=request.user, now=timezone.now())
        return Response(UserWithTokenSerializer(user).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="更换 API token 并显示新的 (admin only)", request=None, responses={201: UserWithTokenSerializer}
    )
    @action(detail=True, methods=["post"])
    @transaction.atomic
    def token(self, request, *args, **kwargs):
        user = self.get_object()
        config_services.token_replace(user=user, actor=request.user, now=timezone.now())
        return Response(UserWithTokenSerializer(user).data, status=status.HTTP_201_CREATED)
