"""Reading a registry CSV file: decoding, delimiter, header, and checks of single cells."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from collections.abc import Iterator
from typing import IO
from typing import Any

from idp.enrolment import validators
from idp.errors import IdpError
from idp.registry import legacy
from idp.registry.crypto import confidential_code_hash

CHUNK = 500  # rows per SELECT … IN (…) when looking up existing records


class InvalidImportFile(IdpError):
    """The file cannot be imported at all (encoding, header, CSV syntax); nothing was written."""


class RowError(ValueError):
    """One row is rejected; the message is the French reason (never a value of the row)."""


def text_of(stream: IO[Any]) -> str:
    try:
        raw = stream.read()
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        raise InvalidImportFile("Le fichier n'est pas encodé en UTF-8.") from None
    return text.removeprefix("\ufeff")


def rows(stream: IO[Any], columns: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str] | str]]:
    """(line number, values by column) for each non-blank row, or (line, reason) when malformed."""
    text = text_of(stream)
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if ";" in first_line else ","
    # strict: an unclosed quote is an error, not a field that swallows the rest of the file.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise InvalidImportFile("Le fichier est vide.")
        if [name.strip().lower() for name in header] != list(columns):
            # Never echo the header: a file without one would print a NIR.
            raise InvalidImportFile(
                f"En-tête inattendu : colonnes attendues {', '.join(columns)} "
                "(séparées par ; ou ,)."
            )
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(columns):
                yield reader.line_num, f"{len(row)} colonnes au lieu de {len(columns)}."
            else:
                yield reader.line_num, {k: v.strip() for k, v in zip(columns, row, strict=True)}
    except csv.Error:
        raise InvalidImportFile(f"Fichier CSV illisible (ligne {reader.line_num}).") from None


def field(values: dict[str, str], column: str, check: Callable[[str], Any], required: bool) -> Any:
    value = values[column]
    if not value:
        if required:
            raise RowError(f"{column} : ce champ est obligatoire.")
        return None
    try:
        return check(value)
    except ValueError as exc:
        raise RowError(f"{column} : {exc}") from None


def iso_date(value: str) -> Any:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("date invalide, format AAAA-MM-JJ attendu.")
    return validators.past_date(value)


def max_length(limit: int) -> Callable[[str], str]:
    def check(value: str) -> str:
        if len(value) > limit:
            raise ValueError(f"{limit} caractères au maximum.")
        return value

    return check


def confidential_code(value: str) -> str:
    if not 4 <= len(re.sub(r"\s", "", value)) <= 64:
        raise ValueError("de 4 à 64 caractères.")
    return confidential_code_hash(value)


def legacy_hash(value: str) -> str:
    if not legacy.is_supported(value):
        raise ValueError("format non reconnu ({SSHA}, {SHA256} ou pbkdf2_sha256).")
    return value


def chunks(items: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]
