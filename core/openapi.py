"""The OpenAPI document tells every status an operation answers (no catch-all ``default``).

flask-smorest documents what each view declares (its success, 422 for bad arguments, the
alternatives it lists). What the app answers to any API request is added here, to every
operation: 400 for input refused before the view (a NUL byte, an unpaired surrogate, JSON
nested too deeply: ``core.inputs``), 401 without a valid token (with its
``WWW-Authenticate: Bearer`` challenge), 403 (a role's or an ended contract's refusal), 503
with Retry-After while the database cannot answer (``core.errors``), 409 on a write the
database refused (a race no rule foresaw), and 404 when the path names something (an id past
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
EMPTY_VALUE = {"type": "string", "enum": [""], "description": "Left blank: no filter"}
UNKNOWN = {"description": "Nothing at this address", "content": ERROR_BODY}
REFUSED = {
    "description": "The token's user may not do this (its role, or its company's contract "
    "has ended: ``accounts.access.contract_ended``)",
    "content": ERROR_BODY,
}
CONFLICT = {
    "description": "The database refused the write (a race no rule foresaw); nothing was written",
    "content": ERROR_BODY,
}
UNAVAILABLE = {
    "description": "The database cannot answer now (restarting, cut off, busy): send again later",
    "headers": {
        "Retry-After": {"description": "seconds", "schema": {"type": "integer", "minimum": 1}}
    },
    "content": ERROR_BODY,
}


class StatusesPlugin(BasePlugin):
    """Adds the statuses every API operation may answer (see the module's docstring)."""

    def operation_helper(self, path: str | None = None, operations: Any = None, **_kwargs):
        for method, operation in (operations or {}).items():
            for parameter in operation.get("parameters", []):
                if isinstance(parameter, dict) and parameter.get("in") == "query":
                    # ``?grid=`` is the filter left blank: the same as no filter. Said twice:
                    # allowEmptyValue, and the empty string among the values the schema takes
                    # (validators and generators ignore allowEmptyValue).
                    parameter["allowEmptyValue"] = True
                    if "schema" in parameter and "anyOf" not in parameter["schema"]:
                        parameter["schema"] = {"anyOf": [parameter["schema"], EMPTY_VALUE]}
            responses = operation.setdefault("responses", {})
            responses.pop("default", None)
            common = {"400": BAD_INPUT, "401": CHALLENGE, "403": REFUSED, "503": UNAVAILABLE}
            if method.lower() not in {"get", "head", "options"}:
                common["409"] = CONFLICT
            if path and "{" in path:
                common["404"] = UNKNOWN
            # flask-smorest keys the statuses its views declare by int (apispec makes them str
            # later): a view's own answer for a status (a 409 with the overlap) is kept.
            declared = {str(status) for status in responses}
            for status, response in common.items():
                if status not in declared:
                    responses[status] = response
