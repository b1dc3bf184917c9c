"""The OpenAPI 3.1 document of the webhook, built from the wire-format models themselves."""

from __future__ import annotations

from typing import Any

_ERROR = {
    "type": "object",
    "properties": {
        "error": {"type": "string"},
        "fields": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "problem": {"type": "string"}},
            },
        },
    },
    "required": ["error"],
}

_RESPONSES: dict[str, str] = {
    "400": "Body is not JSON (or nests too deep, or holds invalid unicode)",
    "401": "Missing or wrong bearer token / HMAC signature for this source",
    "403": "A browser origin not in INCIDENTFLOW_CORS_ORIGINS",
    "413": "Body over INCIDENTFLOW_MAX_BODY_BYTES",
    "415": "Content-Type is not application/json",
    "422": "Not this wire format; `fields` names each invalid field",
    "503": "Temporal did not accept the batch in time; retry after `Retry-After` seconds",
}

# Temporal's Payloads message in protobuf JSON: what the UI sends the codec and gets back.
_PAYLOADS = {
    "type": "object",
    "properties": {
        "payloads": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "metadata": {
                        "type": "object",
                        "additionalProperties": {"type": "string", "format": "byte"},
                    },
                    "data": {"type": "string", "format": "byte"},
                },
            },
        }
    },
}
_CODEC_RESPONSES: dict[str, str] = {
    "400": "Not protobuf JSON Payloads, or a compressed payload that is not valid zlib",
    "401": "Credentials are configured and this request has none for the source `codec`",
    "403": "A browser origin not in INCIDENTFLOW_CORS_ORIGINS",
    "413": "Body over 16 MiB, or payloads that decompress to over 64 MiB",
    "415": "Content-Type is not application/json",
}


def _codec_path(verb: str, summary: str) -> dict[str, Any]:
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    responses: dict[str, Any] = {
        "200": {
            "description": "The payloads, " + verb,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Payloads"}}},
        }
    }
    for code, text in _CODEC_RESPONSES.items():
        responses[code] = {"description": text, "content": error}
    return {
        "post": {
            "summary": summary,
            "operationId": f"codec_{verb}",
            "security": [{"bearer": []}, {}],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Payloads"}}
                },
            },
            "responses": responses,
        }
    }


def openapi_document() -> dict[str, Any]:
    """Paths for every source, health and readiness; schemas from the pydantic models."""
    from incidentflow.ingest.formats import FORMATS

    schemas: dict[str, Any] = {"Error": _ERROR, "Payloads": _PAYLOADS}
    paths: dict[str, Any] = {}
    for fmt in FORMATS.values():
        schema = fmt.model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, sub in schema.pop("$defs", {}).items():
            schemas[name] = sub
        schemas[fmt.model.__name__] = schema
        responses: dict[str, Any] = {
            "202": {"description": "Durably accepted by Temporal; `accepted` lists the batches"}
        }
        for code, text in _RESPONSES.items():
            error = {"schema": {"$ref": "#/components/schemas/Error"}}
            responses[code] = {"description": text, "content": {"application/json": error}}
        paths[f"/v1/alerts/{fmt.source}"] = {
            "post": {
                "summary": f"Receive a {fmt.title} payload",
                "operationId": f"receive_{fmt.source}",
                "security": [{"bearer": []}, {"hmac": []}, {}],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {"$ref": f"#/components/schemas/{fmt.model.__name__}"}
                        }
                    },
                },
                "responses": responses,
            }
        }
    ok = {"description": "OK"}
    paths["/healthz"] = {"get": {"summary": "The process is alive", "responses": {"200": ok}}}
    paths["/readyz"] = {
        "get": {
            "summary": "Temporal answers",
            "responses": {
                "200": ok,
                "503": {
                    "description": "Not ready; `error` says why (e.g. Temporal is not reachable)",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                },
            },
        }
    }
    paths["/codec/decode"] = _codec_path("decoded", "Decompress payloads for the Temporal UI")
    paths["/codec/encode"] = _codec_path("encoded", "Compress payloads as workers would")
    return {
        "openapi": "3.1.0",
        "info": {"title": "IncidentFlow ingest", "version": "1"},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "hmac": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-IncidentFlow-Signature",
                    "description": "sha256=<hex HMAC-SHA256 of '<unix seconds>:<raw body>'>, "
                    "the seconds in X-IncidentFlow-Timestamp; refused outside "
                    "INCIDENTFLOW_INGEST_HMAC_WINDOW_SECONDS of now",
                },
            },
        },
    }
