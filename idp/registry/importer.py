"""CSV import of the registries: validate every row, then upsert, in the caller's transaction.

File: UTF-8 (a BOM is allowed), a header row with exactly the columns of INSURED_COLUMNS or
PROFESSIONAL_COLUMNS, delimiter ";" or "," (whichever the header uses). Blank lines are skipped.

- A file that cannot be read (not UTF-8, wrong header, empty, broken CSV) raises
  InvalidImportFile: nothing is imported.
- Otherwise every row is checked before anything is written. A row with an error is rejected
  (line number and a French reason in the report) and the others are imported; with
  ``strict=True`` one rejected row rejects the whole file.
- Upserts are idempotent: an insured person is matched by NIR hash, a professional by FINESS,
  and "updated" counts every row that matched an existing record.
- A ``parent_nir`` names an insured parent present in the file or already in the registry;
  parents are written first. One level only: a parent may not itself have a parent.
- A professional's ``confidential_code`` is stored as a keyed hash; an empty cell keeps the
  stored one. ``legacy_password_hash`` (formats in legacy.py) is taken when the record is
  created only, so a re-import never brings back a legacy password already used.

No reason, log line or audit event carries a NIR: reasons name the column, never the value.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from typing import IO
from typing import Any
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import aliased

from idp.enrolment import validators
from idp.extensions import db
from idp.registry import csvrows
from idp.registry.crypto import encrypt
from idp.registry.crypto import nir_hash
from idp.registry.models import InsuredRecord
from idp.registry.models import ProfessionalRecord
from idp.security import audit

INSURED_COLUMNS = (
    "nir",
    "card_serial",
    "birth_family_name",
    "usage_family_name",
    "given_names",
    "birthdate",
    "postcode",
    "email",
    "mobile",
    "parent_nir",
)
PROFESSIONAL_COLUMNS = (
    "finess",
    "birth_family_name",
    "given_names",
    "email",
    "confidential_code",
    "legacy_password_hash",
    "address",
    "postcode",
    "city",
)
COLUMNS = {"insured": INSURED_COLUMNS, "professional": PROFESSIONAL_COLUMNS}


@dataclass
class ImportReport:
    kind: str
    total: int = 0
    inserted: int = 0
    updated: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)


# --- Insured people ----------------------------------------------------------------------


# column: (attribute, check, required); nir and parent_nir are handled apart (hashes).
_INSURED_CELLS = {
    "card_serial": ("card_serial", validators.vitale_serial, False),
    "birth_family_name": ("birth_family_name", validators.person_name, True),
    "usage_family_name": ("usage_family_name", validators.person_name, False),
    "given_names": ("given_names", validators.person_name, True),
    "birthdate": ("birthdate", csvrows.iso_date, True),
    "postcode": ("postcode", validators.postcode, True),
    "email": ("email", validators.email, False),
    "mobile": ("mobile", validators.mobile_phone, False),
}
_PROFESSIONAL_CELLS = {
    "birth_family_name": ("birth_family_name", validators.person_name, True),
    "given_names": ("given_names", validators.person_name, True),
    "email": ("email", validators.email, False),
    "confidential_code": ("confidential_code_hash", csvrows.confidential_code, False),
    "legacy_password_hash": ("legacy_password_hash", csvrows.legacy_hash, False),
    "address": ("address", csvrows.max_length(300), True),
    "postcode": ("postcode", validators.postcode, True),
    "city": ("city", csvrows.max_length(150), True),
}


def _cells(values: dict[str, str], spec: dict[str, tuple[str, Any, bool]]) -> dict[str, Any]:
    return {
        attribute: csvrows.field(values, column, check, required)
        for column, (attribute, check, required) in spec.items()
    }


def _registry_parents(hashes: set[str]) -> dict[str, bool]:
    """For each hash found in the registry: whether that record has a parent itself."""
    found: dict[str, bool] = {}
    for chunk in csvrows.chunks(sorted(hashes)):
        query = select(InsuredRecord.nir_hash, InsuredRecord.parent_id).where(
            InsuredRecord.nir_hash.in_(chunk)
        )
        found.update((h, parent_id is not None) for h, parent_id in db.session.execute(query))
    return found


def _with_registry_children(hashes: set[str]) -> set[str]:
    child = aliased(InsuredRecord)
    found: set[str] = set()
    for chunk in csvrows.chunks(sorted(hashes)):
        query = (
            select(InsuredRecord.nir_hash)
            .join(child, child.parent_id == InsuredRecord.id)
            .where(InsuredRecord.nir_hash.in_(chunk))
        )
        found.update(db.session.scalars(query))
    return found


_SELF = "parent_nir : identique au nir de la même ligne."
_ATTACHED = "parent_nir : ce parent est lui-même rattaché à un parent."
_UNKNOWN = "parent_nir : parent introuvable dans le fichier et dans le registre."
_FATHER = "parent_nir : des enfants sont déjà rattachés à cette personne."


def _check_parents(rows: dict[str, tuple[int, dict[str, Any]]], report: ImportReport) -> None:
    """Reject (and drop from rows) the children whose parent is missing or not a valid parent."""
    children = {h: row for h, (_, row) in rows.items() if row["parent_hash"]}
    in_registry = _registry_parents({row["parent_hash"] for row in children.values()} - rows.keys())
    fathers = _with_registry_children(set(children))
    refused: dict[str, str] = {}
    for h, row in children.items():
        parent = row["parent_hash"]
        if parent == h:
            refused[h] = _SELF
        elif parent in rows:
            if rows[parent][1]["parent_hash"]:
                refused[h] = _ATTACHED
        elif parent not in in_registry:
            refused[h] = _UNKNOWN
        elif in_registry[parent]:
            refused[h] = _ATTACHED
        if h in fathers and h not in refused:
            refused[h] = _FATHER
    for h, reason in refused.items():
        report.rejected.append((rows.pop(h)[0], reason))


def _write_insured(rows: dict[str, tuple[int, dict[str, Any]]], report: ImportReport) -> None:
    by_line = sorted(rows.items(), key=lambda item: item[1][0])
    parents_first = (
        [item for item in by_line if not item[1][1]["parent_hash"]],
        [item for item in by_line if item[1][1]["parent_hash"]],
    )
    for group in parents_first:
        for chunk in csvrows.chunks(group):
            _write_insured_chunk(chunk, report)


def _write_insured_chunk(chunk: list[Any], report: ImportReport) -> None:
    query = select(InsuredRecord).where(InsuredRecord.nir_hash.in_([h for h, _ in chunk]))
    existing = {r.nir_hash: r for r in db.session.scalars(query)}
    parents = {row["parent_hash"] for _, (_, row) in chunk if row["parent_hash"]}
    ids = select(InsuredRecord.nir_hash, InsuredRecord.id).where(
        InsuredRecord.nir_hash.in_(parents)
    )
    parent_ids: dict[str, int] = {h: id_ for h, id_ in db.session.execute(ids)}
    for h, (_, row) in chunk:
        values = {k: v for k, v in row.items() if k != "parent_hash"}
        values["parent_id"] = parent_ids.get(row["parent_hash"])
        record = existing.get(h)
        if record is None:
            db.session.add(InsuredRecord(nir_hash=h, **values))
            report.inserted += 1
        else:
            for key, value in values.items():
                setattr(record, key, value)
            report.updated += 1
    db.session.flush()


def _import_insured(stream: IO[Any], report: ImportReport) -> dict[str, Any]:
    rows: dict[str, tuple[int, dict[str, Any]]] = {}
    seen: dict[str, int] = {}
    for line, values in csvrows.rows(stream, INSURED_COLUMNS):
        report.total += 1
        try:
            if isinstance(values, str):
                raise csvrows.RowError(values)
            nir = csvrows.field(values, "nir", validators.nir, True)
            h = nir_hash(nir)
            if h in seen:
                raise csvrows.RowError(f"nir : déjà présent ligne {seen[h]}.")
            seen[h] = line
            row = _cells(values, _INSURED_CELLS)
            parent = csvrows.field(values, "parent_nir", validators.nir, False)
            row["parent_hash"] = nir_hash(parent) if parent else None
            row["nir_encrypted"] = encrypt(nir)
            rows[h] = (line, row)
        except csvrows.RowError as exc:
            report.rejected.append((line, str(exc)))
    _check_parents(rows, report)
    return rows


# --- Professionals -----------------------------------------------------------------------


def _import_professionals(stream: IO[Any], report: ImportReport) -> dict[str, Any]:
    rows: dict[str, tuple[int, dict[str, Any]]] = {}
    for line, values in csvrows.rows(stream, PROFESSIONAL_COLUMNS):
        report.total += 1
        try:
            if isinstance(values, str):
                raise csvrows.RowError(values)
            finess = csvrows.field(values, "finess", validators.finess, True)
            if finess in rows:
                raise csvrows.RowError(f"finess : déjà présent ligne {rows[finess][0]}.")
            rows[finess] = (line, _cells(values, _PROFESSIONAL_CELLS))
        except csvrows.RowError as exc:
            report.rejected.append((line, str(exc)))
    return rows


def _write_professionals(rows: dict[str, tuple[int, dict[str, Any]]], report: ImportReport) -> None:
    for chunk in csvrows.chunks(sorted(rows.items(), key=lambda item: item[1][0])):
        query = select(ProfessionalRecord).where(
            ProfessionalRecord.finess.in_([finess for finess, _ in chunk])
        )
        existing = {r.finess: r for r in db.session.scalars(query)}
        for finess, (_, values) in chunk:
            record = existing.get(finess)
            if record is None:
                db.session.add(ProfessionalRecord(finess=finess, **values))
                report.inserted += 1
                continue
            for key, value in values.items():
                if key == "legacy_password_hash" or (key == "confidential_code_hash" and not value):
                    continue
                setattr(record, key, value)
            report.updated += 1
        db.session.flush()


# --- Entry point -------------------------------------------------------------------------


def import_csv(
    kind: Literal["insured", "professional"], stream: IO[Any], *, strict: bool = False
) -> ImportReport:
    """Validate then upsert a registry CSV (text or binary stream); the caller commits."""
    if kind not in COLUMNS:
        raise ValueError(f"unknown registry kind {kind!r}")
    report = ImportReport(kind=kind)
    if kind == "insured":
        rows = _import_insured(stream, report)
    else:
        rows = _import_professionals(stream, report)
    report.rejected.sort()
    applied = not (strict and report.rejected)
    if applied:
        (_write_insured if kind == "insured" else _write_professionals)(rows, report)
    audit.record(
        "registry.imported",
        kind=kind,
        total=report.total,
        inserted=report.inserted,
        updated=report.updated,
        rejected=len(report.rejected),
        strict=strict,
        applied=applied,
    )
    return report
