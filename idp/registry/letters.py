"""Postal letters for the print shop: take the queued ones, fill them in, write CSV or PDF.

CSV: UTF-8 with a BOM, ";" (what a French spreadsheet opens as is), one row per letter with
the address block, the code and the whole text. PDF: A4, one letter per page, the address
placed for a right-hand window envelope. Both hold confidential codes in clear: the files are
written with mode 0600.
"""

from __future__ import annotations

import csv
import os
import unicodedata
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from babel.dates import format_date
from fpdf import FPDF
from jinja2 import Environment
from jinja2 import PackageLoader
from jinja2 import select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from idp.extensions import db
from idp.models import utcnow
from idp.registry.models import LetterRequest
from idp.registry.services import new_confidential_code

CSV_COLUMNS = ("id", "kind", "finess", "name", "address", "postcode", "city", "code", "content")

_templates = Environment(
    loader=PackageLoader("idp.registry", "templates"),
    autoescape=select_autoescape(["html"]),
    keep_trailing_newline=False,
)


@dataclass(frozen=True)
class Letter:
    id: int
    kind: str
    finess: str
    name: str
    address: str
    postcode: str
    city: str
    code: str | None
    content: str


def take_pending() -> list[Letter]:
    """Fill in every letter not exported yet and mark it exported; the caller commits.

    A "confidential_code" letter gets a NEW code, stored hashed (the previous one stops
    working), so that the code exists in clear only in the exported file.
    """
    query = (
        select(LetterRequest)
        .where(LetterRequest.exported_at.is_(None))
        .options(joinedload(LetterRequest.professional))
        .order_by(LetterRequest.id)
        .with_for_update(of=LetterRequest)  # two exports at once must not send a letter twice
    )
    letters = []
    now = utcnow()
    for request in db.session.scalars(query):
        pro = request.professional
        code = new_confidential_code(pro) if request.kind == "confidential_code" else None
        fields = {
            "id": request.id,
            "kind": request.kind,
            "finess": pro.finess,
            "name": f"{pro.given_names} {pro.birth_family_name}",
            "address": pro.address,
            "postcode": pro.postcode,
            "city": pro.city,
            "code": code,
        }
        template = _templates.get_template(f"letters/{request.kind}.txt")
        content = template.render(letter=fields, code=code).strip()
        letters.append(Letter(**fields, content=content))
        request.exported_at = now
    db.session.flush()
    return letters


def _private_file(path: Path, mode: str = "w", **kwargs):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.chmod(path, 0o600)
    return os.fdopen(fd, mode, **kwargs)


def _cell(value: str | None) -> str:
    """A spreadsheet must not read a name or an address as a formula (CSV injection)."""
    value = value or ""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def write_csv(letters: list[Letter], path: Path) -> None:
    with _private_file(path, encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh, delimiter=";")
        writer.writerow(CSV_COLUMNS)
        for letter in letters:
            writer.writerow([_cell(str(getattr(letter, c) or "")) for c in CSV_COLUMNS])


_NEXT_LINE = {"new_x": "LMARGIN", "new_y": "NEXT"}  # fpdf2: the next cell starts a new line

# Letters without a decomposition into a base letter and an accent.
_PLAIN = str.maketrans("ŁłØøĐđĦħıŦŧ", "LlOoDdHhiTt")


def _pdf_text(text: str) -> str:
    """Core PDF fonts cover Windows-1252: drop the accents it lacks (ł → l, ğ → g), else "?"."""
    out = []
    for char in text.translate(_PLAIN):
        try:
            char.encode("cp1252")
        except UnicodeEncodeError:
            base = unicodedata.normalize("NFKD", char)[:1]
            char = base if base.isascii() and base.isprintable() else "?"
        out.append(char)
    return "".join(out)


def write_pdf(letters: list[Letter], path: Path, today: date | None = None) -> None:
    pdf = FPDF(format="A4", unit="mm")
    pdf.core_fonts_encoding = "windows-1252"
    pdf.set_margins(20, 20, 20)
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.set_title("Courriers")
    pdf.set_creator("idp")
    when = format_date(today or date.today(), format="long", locale="fr")
    for letter in letters:
        pdf.add_page()
        pdf.set_font("Helvetica", "B", 11)
        pdf.cell(text=_pdf_text("Espace Professionnels de santé"), **_NEXT_LINE)
        # Right-hand window of a DL or C5 envelope: about 110 mm from the left, 45 mm down.
        pdf.set_font("Helvetica", "", 11)
        pdf.set_xy(110, 45)
        address = f"{letter.name}\n{letter.address}\n{letter.postcode} {letter.city}"
        pdf.multi_cell(w=80, h=5.5, text=_pdf_text(address), align="L", **_NEXT_LINE)
        pdf.set_xy(110, 80)
        pdf.cell(text=f"Le {when}", **_NEXT_LINE)
        pdf.set_y(100)
        for paragraph in letter.content.split("\n\n"):
            paragraph = " ".join(paragraph.split())
            if letter.code and paragraph == letter.code:
                pdf.set_font("Courier", "B", 16)
                pdf.cell(w=0, h=10, text=paragraph, align="C", **_NEXT_LINE)
                pdf.set_font("Helvetica", "", 11)
            else:
                pdf.multi_cell(w=0, h=5.5, text=_pdf_text(paragraph), align="L", **_NEXT_LINE)
            pdf.ln(3)
    with _private_file(path, "wb") as fh:
        fh.write(pdf.output())
