"""OpenAPI: every operation documents its error responses, in the shapes the exception handler produces."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from reporting.idempotency import HEADER, MAX_LENGTH, REPLAYED_HEADER


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

#: Where the operation accepts ``Idempotency-Key`` (its viewset's ``idempotent_actions``).
IDEMPOTENT_DESCRIPTIONS = {
    "400": DESCRIPTIONS["400"] + f"; 或 {HEADER} 格式不对 (or a malformed {HEADER})",
    "409": DESCRIPTIONS["409"] + f"; 或使用同一 {HEADER} 的请求仍在处理中 "
    f"(or a request with the same {HEADER} is still being processed: retry later)",
    "422": f"此 {HEADER} 已用于另一个请求 (方法、路径或请求体不同), 未执行 "
    f"(the {HEADER} was used for a different request; nothing was done)",
}

IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    HEADER,
    str,
    OpenApiParameter.HEADER,
    required=False,
    pattern=rf"^[\x20-\x7e]{{1,{MAX_LENGTH}}}$",
    description=(
        "可选。客户端为每个新请求生成的唯一键 (如 UUID), 重试时原样再发 "
        "(optional: a key the client makes per new request, e.g. a UUID, and sends again unchanged on a retry). "
        f"1–{MAX_LENGTH} printable ASCII characters, per user, kept 24 h by default. The first request's answer "
        f"(2xx or 4xx) is stored; a retry with the same key and the same request gets it again, with "
        f"`{REPLAYED_HEADER}: true`, and nothing is done again. Same key, other request: 422. Same key while the "
        "first is still being processed: 409."
    ),
)


class ApiAutoSchema(AutoSchema):
    """Adds the error responses every endpoint can give to what drf-spectacular infers."""

    def _idempotent(self) -> bool:
        return getattr(self.view, "action", None) in getattr(self.view, "idempotent_actions", ())

    def _error_codes(self) -> list[str]:
        codes = ["400", "401", "403", "404", "406"]
        if self.method in ("POST", "PUT", "PATCH", "DELETE"):
            codes.append("409")
        if self.method in ("POST", "PUT", "PATCH"):
            codes += ["413", "415"]
        if self._idempotent():
            codes.append("422")
        if getattr(self.view, "throttled_actions", ()) and getattr(self.view, "action", None) in (
            self.view.throttled_actions
        ):
            codes.append("429")
        return codes

    def get_override_parameters(self):
        parameters = super().get_override_parameters()
        if self._idempotent():
            parameters = [*parameters, IDEMPOTENCY_KEY_PARAMETER]
        return parameters

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code in self._error_codes():
            if code in responses:
                continue
            body = FIELD_ERRORS if code in ("400", "409", "422") else ErrorDetailSerializer
            described = IDEMPOTENT_DESCRIPTIONS if self._idempotent() else {}
            description = described.get(code) or DESCRIPTIONS[code]
            responses[code] = self._get_response_for_code(
                OpenApiResponse(response=body, description=description), code, direction=direction
            )
        return responses
