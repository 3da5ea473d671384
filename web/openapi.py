"""The OpenAPI 3.1 document served at /api/v1/openapi.json.

Each area adds its paths with `register_paths`; the document is assembled on request."""

from __future__ import annotations

from copy import deepcopy

_PATHS: dict[str, dict] = {}
_SCHEMAS: dict[str, dict] = {}

ERROR = {"type": "object", "required": ["error"],
         "properties": {"error": {"type": "string"}, "errors": {"type": "object",
                                                                "additionalProperties": {"type": "string"}}}}


def register_paths(paths: dict[str, dict], schemas: dict[str, dict] | None = None) -> None:
    for path, operations in paths.items():
        _PATHS.setdefault(path, {}).update(operations)
    _SCHEMAS.update(schemas or {})


def error_responses(*codes: int) -> dict:
    text = {400: "Malformed request", 401: "Not authenticated", 403: "Not allowed for this user",
            404: "Not found", 409: "Conflict: already done or changed meanwhile",
            422: "Validation failed; errors per field", 429: "Too many requests"}
    return {str(c): {"description": text[c], "content": {"application/json": {"schema": {"$ref":
            "#/components/schemas/Error"}}}} for c in codes}


def json_body(schema: dict, required: bool = True) -> dict:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def ok(description: str, schema: dict, code: int = 200) -> dict:
    return {str(code): {"description": description, "content": {"application/json": {"schema": schema}}}}


def openapi_document() -> dict:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Redress API", "version": "1.0.0",
                 "description": "Complaint handling: tasks, complaints, intake and process definitions."},
        "servers": [{"url": "/api/v1"}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": ERROR, **deepcopy(_SCHEMAS)},
        },
        "security": [{"bearer": []}],
        "paths": deepcopy(_PATHS),
    }


TASK = {
    "type": "object",
    "required": ["id", "bpmn_id", "name", "lane", "complaint_reference", "assignee", "due_at", "created_at"],
    "properties": {
        "id": {"type": "string"}, "bpmn_id": {"type": "string"}, "name": {"type": "string"},
        "lane": {"type": ["string", "null"]}, "complaint_reference": {"type": "string"},
        "assignee": {"type": ["string", "null"]},
        "due_at": {"type": ["string", "null"], "format": "date-time"},
        "created_at": {"type": "string", "format": "date-time"},
    },
}
TASK_LIST = {"type": "object", "required": ["tasks"],
             "properties": {"tasks": {"type": "array", "items": {"$ref": "#/components/schemas/Task"}},
                            "page": {"type": "integer"}, "has_next": {"type": "boolean"}}}
TASK_ID = {"name": "task_id", "in": "path", "required": True, "schema": {"type": "string"}}

register_paths(
    {
        "/tasks": {"get": {
            "summary": "Open tasks: mine, my department's unassigned ones, or all (supervisors)",
            "parameters": [
                {"name": "scope", "in": "query", "schema": {"type": "string", "enum": ["mine", "group", "all"]}},
                {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
            ],
            "responses": {**ok("A page of tasks, soonest due first", TASK_LIST), **error_responses(400, 401)},
        }},
        "/tasks/{task_id}": {"get": {
            "summary": "One task with its form (JSON Schema) and the case data",
            "parameters": [TASK_ID],
            "responses": {**ok("The task", {"allOf": [{"$ref": "#/components/schemas/Task"}, {
                "type": "object", "properties": {"form": {"type": ["object", "null"]}, "data": {"type": "object"}}}]}),
                **error_responses(401, 403, 404)},
        }},
        "/tasks/{task_id}/claim": {"post": {
            "summary": "Claim a task of one's department", "parameters": [TASK_ID],
            "responses": {**ok("Claimed", {"$ref": "#/components/schemas/Task"}), **error_responses(401, 403, 404, 409)},
        }},
        "/tasks/{task_id}/unclaim": {"post": {
            "summary": "Give a claimed task back to the department", "parameters": [TASK_ID],
            "responses": {**ok("Released", {"$ref": "#/components/schemas/Task"}), **error_responses(401, 403, 404, 409)},
        }},
        "/tasks/{task_id}/complete": {"post": {
            "summary": "Complete a task with the form's data", "parameters": [TASK_ID],
            "requestBody": json_body({"type": "object", "required": ["data"],
                                      "properties": {"data": {"type": "object"}}}),
            "responses": {**ok("Completed; the complaint's open tasks now", TASK_LIST),
                          **error_responses(400, 401, 403, 404, 409, 422)},
        }},
    },
    {"Task": TASK},
)
