"""The OpenAPI 3.1 document, generated from the route table (api.app.ROUTES) and the pydantic models
(api.schemas): the app serves it at /v1/openapi.json and the tests check real responses against it."""

from __future__ import annotations

import re
from typing import Any

from api.problems import TITLES
from api.schemas import ProblemResponse

VERSION = "1"


def _path(rule: str) -> tuple[str, list[dict[str, Any]]]:
    names = re.findall(r"<(?:\w+:)?(\w+)>", rule)
    params = [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}} for n in names]
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule), params


def _ref(name: str, media: str = "application/json") -> dict[str, Any]:
    return {media: {"schema": {"$ref": f"#/components/schemas/{name}"}}}


def document(routes: list[Any]) -> dict[str, Any]:
    schemas: dict[str, Any] = {"Problem": ProblemResponse.model_json_schema()}
    paths: dict[str, Any] = {}
    for r in routes:
        path, params = _path(r.path)
        op: dict[str, Any] = {"summary": r.summary, "operationId": r.view.__name__, "responses": {}}
        if params:
            op["parameters"] = params
        if r.scope:
            op["security"] = [{"token": [r.scope]}]
        if r.body is not None:
            schemas[r.body.__name__] = r.body.model_json_schema(ref_template="#/components/schemas/{model}")
            op["requestBody"] = {"required": True, "content": _ref(r.body.__name__)}
        for code in r.codes or (200,):
            if code < 400 and r.response is not None:
                schemas[r.response.__name__] = r.response.model_json_schema(
                    ref_template="#/components/schemas/{model}"
                )
                op["responses"][str(code)] = {"description": "OK", "content": _ref(r.response.__name__)}
            elif code < 400:
                op["responses"][str(code)] = {"description": "OK"}
            else:
                content = _ref("Problem", "application/problem+json")
                op["responses"][str(code)] = {"description": TITLES.get(code, "Error"), "content": content}
        paths.setdefault(path, {})[r.method.lower()] = op
    for schema in list(schemas.values()):  # nested models pydantic put under $defs
        schemas.update(schema.pop("$defs", {}))
    return {
        "openapi": "3.1.0",
        "info": {"title": "qqscan API", "version": VERSION},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}},
        },
    }
