"""OpenAPI: every operation documents its error responses, in the shapes the exception handler produces."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ErrorDetailSerializer(serializers.Serializer):
    """401, 403, 404, 405, 406, 413, 415 and 429: one message."""

    detail = serializers.CharField()


#: 400 and 409: a field (or ``non_field_errors``) mapped to a list of messages; nested inputs nest the same way.
FIELD_ERRORS = {
    "type": "object",
    "description": "字段名 → 错误信息列表 (field name → list of messages); 非字段错误见 non_field_errors",
    "additionalProperties": {},
}

DESCRIPTIONS = {
    "400": "输入有误, 未写入任何数据 (bad input; nothing was written)",
    "401": "未提供或无效的凭据 (missing or bad credentials)",
    "403": "该角色无权执行此操作 (this role may not do this)",
    "404": "不存在或不在您的范围内 (not found, or outside your scope)",
    "406": "无法提供所请求的格式 (cannot render the requested media type)",
    "409": "与当前状态冲突 (conflicts with the current state)",
    "413": "请求体超过 1 MiB (request body larger than 1 MiB)",
    "415": "仅接受 application/json (JSON only)",
    "429": "请求过于频繁 (throttled)",
}


class ApiAutoSchema(AutoSchema):
    """Adds the error responses every endpoint can give to what drf-spectacular infers."""

    def _error_codes(self) -> list[str]:
        codes = ["400", "401", "403", "404", "406"]
        if self.method in ("POST", "PUT", "PATCH", "DELETE"):
            codes.append("409")
        if self.method in ("POST", "PUT", "PATCH"):
            codes += ["413", "415"]
        if getattr(self.view, "throttled_actions", ()) and getattr(self.view, "action", None) in (
            self.view.throttled_actions
        ):
            codes.append("429")
        return codes

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code in self._error_codes():
            if code in responses:
                continue
            body = FIELD_ERRORS if code in ("400", "409") else ErrorDetailSerializer
            responses[code] = self._get_response_for_code(
                OpenApiResponse(response=body, description=DESCRIPTIONS[code]), code, direction=direction
            )
        return responses
