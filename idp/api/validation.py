"""Request validation: JSON bodies against the OpenAPI schemas, query strings by hand.

A small interpreter of the JSON Schema subset that idp.api.openapi uses (type, nullable,
required, properties, additionalProperties false, minProperties, enum, pattern, minLength,
maxLength, minItems, maxItems, minimum, maximum, items). Messages are in French.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from flask import request
from werkzeug.exceptions import RequestEntityTooLarge

from idp.api import openapi
from idp.api.errors import ApiError

MAX_BODY = 64 * 1024
TYPES = {
    "string": "une chaîne",
    "integer": "un entier",
    "boolean": "un booléen",
    "array": "une liste",
    "object": "un objet",
}


def _label(path: str) -> str:
    return path or "corps"


def _clean_text(value: str, path: str) -> None:
    # PostgreSQL refuses NUL; a lone surrogate cannot be encoded: both are 400, never 500.
    if "\x00" in value:
        raise ApiError(400, "invalid_request", f"{_label(path)} : caractère nul refusé.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ApiError(400, "invalid_request", f"{_label(path)} : texte mal encodé.") from None


class DuplicateKey(ValueError):
    """A JSON object names the same key twice: which value was meant is ambiguous."""

    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # object_pairs_hook: called for every object, innermost first, so at any depth.
    value = dict(pairs)
    if len(value) != len(pairs):
        seen: set[str] = set()
        for key, _item in pairs:
            if key in seen:
                raise DuplicateKey(key)
            seen.add(key)
    return value


def _shown_key(key: str) -> str:
    # The key goes back in the message: short, printable, encodable.
    shown = "".join(c if c.isprintable() and not 0xD800 <= ord(c) <= 0xDFFF else "?" for c in key)
    return shown if len(shown) <= 100 else shown[:100] + "…"


def _is_type(value: Any, kind: str) -> bool:
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    python = {"string": str, "boolean": bool, "array": list, "object": dict}[kind]
    return isinstance(value, python)


def check(value: Any, schema: dict[str, Any], path: str = "") -> Any:
    """Raise ApiError(400) unless value conforms to schema; return value."""
    if "$ref" in schema:
        schema = openapi.component(schema["$ref"].rsplit("/", 1)[-1])
    label = _label(path)
    if value is None:
        if schema.get("nullable"):
            return value
        raise ApiError(400, "invalid_request", f"{label} : valeur obligatoire (null refusé).")
    kind = schema.get("type")
    if kind and not _is_type(value, kind):
        raise ApiError(400, "invalid_request", f"{label} : {TYPES[kind]} est attendu(e).")
    if "enum" in schema and value not in schema["enum"]:
        allowed = ", ".join(str(v) for v in schema["enum"])
        raise ApiError(400, "invalid_request", f"{label} : valeur non autorisée ({allowed}).")
    if isinstance(value, str):
        _clean_text(value, path)
        if len(value) < schema.get("minLength", 0):
            raise ApiError(400, "invalid_request", f"{label} : valeur vide ou trop courte.")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            raise ApiError(
                400, "invalid_request", f"{label} : {schema['maxLength']} caractères au plus."
            )
        if "pattern" in schema and not re.search(schema["pattern"], value):
            raise ApiError(400, "invalid_request", f"{label} : format refusé.")
    if kind == "integer":
        if "minimum" in schema and value < schema["minimum"]:
            raise ApiError(400, "invalid_request", f"{label} : au moins {schema['minimum']}.")
        if "maximum" in schema and value > schema["maximum"]:
            raise ApiError(400, "invalid_request", f"{label} : au plus {schema['maximum']}.")
    if kind == "array":
        if len(value) < schema.get("minItems", 0):
            raise ApiError(400, "invalid_request", f"{label} : liste trop courte.")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            raise ApiError(
                400, "invalid_request", f"{label} : {schema['maxItems']} éléments au plus."
            )
        for index, item in enumerate(value):
            check(item, schema.get("items", {}), f"{label}[{index}]")
    if kind == "object":
        _check_object(value, schema, path)
    return value


def _check_object(value: dict[str, Any], schema: dict[str, Any], path: str) -> None:
    properties = schema.get("properties", {})
    prefix = f"{path}." if path else ""
    if schema.get("additionalProperties") is False:
        unknown = sorted(k for k in value if k not in properties)
        if unknown:
            names = ", ".join(prefix + k for k in unknown)
            raise ApiError(400, "invalid_request", f"Champ inconnu : {names[:200]}.")
    for name in schema.get("required", []):
        if name not in value:
            raise ApiError(400, "invalid_request", f"Champ obligatoire manquant : {prefix}{name}.")
    if len(value) < schema.get("minProperties", 0):
        raise ApiError(400, "invalid_request", "Au moins un champ est attendu.")
    for name, item in value.items():
        if name in properties:
            check(item, properties[name], prefix + name)


def json_body(schema_name: str) -> dict[str, Any]:
    """The request's JSON object, validated against a component schema."""
    if request.mimetype != "application/json":
        raise ApiError(415, "unsupported_media_type", "Corps JSON attendu (application/json).")
    if (request.content_length or 0) > MAX_BODY:
        raise ApiError(413, "request_too_large", f"Corps limité à {MAX_BODY // 1024} Kio.")
    # A chunked body has no Content-Length: bound the read itself too (the stream stops
    # at the limit, so a body reaching it is too large).
    request.max_content_length = MAX_BODY
    try:
        raw = request.get_data(cache=True)
    except RequestEntityTooLarge:
        raw = None
    if raw is None or (request.content_length is None and len(raw) >= MAX_BODY):
        raise ApiError(413, "request_too_large", f"Corps limité à {MAX_BODY // 1024} Kio.")
    try:
        data = json.loads(raw, object_pairs_hook=_unique_keys)
    except DuplicateKey as duplicate:
        raise ApiError(
            400,
            "invalid_request",
            f"Clé en double dans le corps JSON : {_shown_key(duplicate.key)}.",
        ) from None
    except (ValueError, RecursionError):  # not JSON, not UTF-8/16/32, absurdly nested
        data = None
    if data is None:
        raise ApiError(400, "invalid_request", "Corps JSON illisible.")
    return check(data, openapi.component(schema_name))


def _arg(name: str) -> str | None:
    value = request.args.get(name)
    if value is not None:
        _clean_text(value, name)
    return value


def text_arg(name: str, max_length: int, pattern: str | None = None) -> str | None:
    value = _arg(name)
    if value is None:
        return None
    if len(value) > max_length:
        raise ApiError(400, "invalid_request", f"{name} : {max_length} caractères au plus.")
    if pattern and not re.search(pattern, value):
        raise ApiError(400, "invalid_request", f"{name} : format refusé.")
    return value


def int_arg(name: str, default: int, low: int, high: int) -> int:
    value = _arg(name)
    if value is None:
        return default
    if not re.fullmatch(r"[+-]?[0-9]{1,9}", value.strip()):
        raise ApiError(400, "invalid_request", f"{name} : un entier est attendu.")
    number = int(value)
    if not low <= number <= high:
        raise ApiError(400, "invalid_request", f"{name} : entre {low} et {high}.")
    return number


def datetime_arg(name: str) -> dt.datetime | None:
    """An RFC 3339 date-time (UTC when no offset is given)."""
    value = _arg(name)
    if value is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(value.strip().replace("z", "Z"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        return moment.astimezone(dt.UTC)
    except (ValueError, OverflowError):
        raise ApiError(
            400, "invalid_request", f"{name} : date et heure ISO 8601 attendues."
        ) from None
