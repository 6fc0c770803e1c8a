"""The OpenAPI document tells every status an operation answers (no catch-all ``default``).

flask-smorest documents what each view declares (its success, 422 for bad arguments, the
alternatives it lists). What the app answers to any API request is added here, to every
operation: 400 for input refused before the view (a NUL byte, an unpaired surrogate, JSON
nested too deeply: ``core.inputs``), 401 without a valid token (with its
``WWW-Authenticate: Bearer`` challenge), and 404 when the path names something (an id past
the database's integers matches no route at all). A query argument may be empty
(``allowEmptyValue``): an empty filter is no filter (``core.api.QuerySchema``).
"""

from __future__ import annotations

from typing import Any

from apispec import BasePlugin

ERROR_BODY = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
BAD_INPUT = {
    "description": "Unreadable input: a NUL character, an unpaired surrogate, JSON nested "
    "too deeply, or a body that is not what the Content-Type says",
    "content": ERROR_BODY,
}
CHALLENGE = {
    "description": "No valid bearer token",
    "headers": {
        "WWW-Authenticate": {
            "description": "Bearer",
            "schema": {"type": "string", "enum": ["Bearer"]},
        }
    },
    "content": ERROR_BODY,
}
UNKNOWN = {"description": "Nothing at this address", "content": ERROR_BODY}


class StatusesPlugin(BasePlugin):
    """Adds the statuses every API operation may answer (see the module's docstring)."""

    def operation_helper(self, path: str | None = None, operations: Any = None, **_kwargs):
        for operation in (operations or {}).values():
            for parameter in operation.get("parameters", []):
                if isinstance(parameter, dict) and parameter.get("in") == "query":
                    # ``?grid=`` is the filter left blank: the same as no filter.
                    parameter["allowEmptyValue"] = True
            responses = operation.setdefault("responses", {})
            responses.pop("default", None)
            responses.setdefault("400", BAD_INPUT)
            responses.setdefault("401", CHALLENGE)
            if path and "{" in path:
                responses.setdefault("404", UNKNOWN)
