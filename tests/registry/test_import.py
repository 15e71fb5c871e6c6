"""CSV import: good files in each dialect, broken files, idempotence, strict mode, audit."""

import io
import logging

import pytest
from sqlalchemy import select
from sqlalchemy import text

from idp.extensions import db
from idp.models import AuditEvent
from idp.registry.crypto import nir_hash
from idp.registry.models import InsuredRecord
from idp.registry.services import InvalidImportFile
from idp.registry.services import find_insured_by_nir
from idp.registry.services import find_professional
from idp.registry.services import forget_legacy_password
from idp.registry.services import import_csv
from tests.registry.conftest import DATA
from tests.registry.conftest import ELOISE
from tests.registry.conftest import JEAN_PIERRE
from tests.registry.conftest import LEA
from tests.registry.conftest import assert_no_nir

HEADER = "nir;card_serial;birth_family_name;usage_family_name;given_names;birthdate;postcode;email;mobile;parent_nir\n"


def count(model) -> int:
    return db.session.scalar(select(db.func.count()).select_from(model))


def insured_text(*rows: str) -> io.StringIO:
    return io.StringIO(HEADER + "".join(f"{row}\n" for row in rows))


@pytest.mark.parametrize("name", ["insured.csv", "insured_comma_bom.csv"])
def test_good_file_semicolon_or_comma_with_or_without_bom(load, name):
    report = load("insured", name)
    assert (report.kind, report.total, report.inserted, report.updated) == ("insured", 4, 4, 0)
    assert report.rejected == []
    eloise = find_insured_by_nir(ELOISE)
    assert eloise.birth_family_name == "d'Aubigné-Laval"
    assert eloise.usage_family_name == "Martin"
    assert eloise.card_serial == "01024576124"
    assert eloise.email == "eloise@example.fr"
    assert eloise.mobile == "+33612345678"
    assert find_insured_by_nir(JEAN_PIERRE).mobile == "+33698765432"
    # The child came first in the file; parents are written first.
    assert find_insured_by_nir(LEA).parent_id == eloise.id


def test_text_stream_with_bom_is_accepted(app_ctx):
    stream = io.StringIO("\ufeff" + (DATA / "insured.csv").read_text(encoding="utf-8"))
    assert import_csv("insured", stream).inserted == 4


def test_reimport_updates_instead_of_duplicating(load):
    load("insured", "insured.csv")
    before = {r.nir_hash: r.id for r in db.session.scalars(select(InsuredRecord))}
    report = load("insured", "insured_comma_bom.csv")
    assert (report.total, report.inserted, report.updated, report.rejected) == (4, 0, 4, [])
    assert {r.nir_hash: r.id for r in db.session.scalars(select(InsuredRecord))} == before
    changed = insured_text(f"{ELOISE};;d'Aubigné-Laval;;Éloïse;1985-03-14;69002;;;")
    report = import_csv("insured", changed)
    db.session.commit()
    assert (report.inserted, report.updated) == (0, 1)
    eloise = find_insured_by_nir(ELOISE)
    assert (eloise.postcode, eloise.usage_family_name, eloise.card_serial) == ("69002", None, None)


def test_rows_with_errors_are_rejected_and_the_others_imported(load, caplog):
    caplog.set_level(logging.DEBUG)
    report = load("insured", "insured_errors.csv")
    assert (report.total, report.inserted, report.updated) == (8, 1, 0)  # the blank line skipped
    reasons = dict(report.rejected)
    assert sorted(reasons) == [3, 4, 5, 6, 7, 8, 10]
    assert reasons[3].startswith("nir : ") and "clé" in reasons[3]
    assert reasons[4].startswith("birthdate : ")
    assert reasons[5] == "parent_nir : parent introuvable dans le fichier et dans le registre."
    assert reasons[6] == "nir : déjà présent ligne 2."
    assert reasons[7] == "4 colonnes au lieu de 10."
    assert reasons[8].startswith("postcode : ")
    assert reasons[10].startswith("email : ")
    assert count(InsuredRecord) == 1
    assert_no_nir(repr(report) + caplog.text)
    for nir in ("192076912304545", "188101305520195", "199017505600142", "270053306301064"):
        assert nir not in repr(report) + caplog.text


def test_dates_must_be_iso_and_rows_must_have_every_column(app_ctx):
    report = import_csv("insured", insured_text(f"{ELOISE};;Martin;;Éloïse;14/03/1985;75011;;;"))
    assert report.rejected == [(2, "birthdate : date invalide, format AAAA-MM-JJ attendu.")]
    pro = "finess,birth_family_name,given_names,email,confidential_code,legacy_password_hash,address,postcode,city\n"
    report = import_csv("professional", io.StringIO(pro + "750000010,Lefèvre,Claire\n"))
    assert report.rejected == [(2, "3 colonnes au lieu de 9.")]


def test_strict_mode_rejects_the_whole_file(load):
    report = load("insured", "insured_errors.csv", strict=True)
    assert (report.inserted, report.updated, len(report.rejected)) == (0, 0, 7)
    assert count(InsuredRecord) == 0
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.event == "registry.imported"))
    assert event.details["applied"] is False and event.details["strict"] is True


def test_strict_mode_imports_a_clean_file(load):
    assert load("insured", "insured.csv", strict=True).inserted == 4


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "vide"),
        (HEADER.replace("card_serial", "card").encode(), "En-tête inattendu"),
        # No header at all: the first line is a person, and the message must not show it.
        (f"{ELOISE};;Martin;;Éloïse;1985-03-14;75011;;;\n".encode(), "En-tête inattendu"),
        ((DATA / "insured_latin1.csv").read_bytes(), "UTF-8"),
        (HEADER.encode() + f'{ELOISE};"Martin;\n{LEA};'.encode(), "illisible (ligne 3)"),
    ],
)
def test_unreadable_files_import_nothing(app_ctx, content, message):
    with pytest.raises(InvalidImportFile) as exc:
        import_csv("insured", io.BytesIO(content))
    assert message in str(exc.value)
    assert_no_nir(str(exc.value))
    db.session.rollback()
    assert count(InsuredRecord) == 0


def test_parent_must_be_in_the_file_or_already_in_the_registry(load):
    load("insured", "insured.csv")
    child = "145029912345676"
    report = import_csv(
        "insured", insured_text(f"{child};;Martin;;Hugo;2019-01-02;75011;;;{ELOISE}")
    )
    assert (report.inserted, report.rejected) == (1, [])
    eloise = find_insured_by_nir(ELOISE)
    assert find_insured_by_nir(child).parent is eloise


def test_one_level_of_parents_only_and_no_cycles(load):
    load("insured", "insured.csv")  # Léa is Éloïse's child
    a, b = "145029912345676", "192076912304544"
    report = import_csv(
        "insured",
        insured_text(
            f"{a};;Un;;Petit;2019-01-02;75011;;;{LEA}",  # Léa is a child herself
            f"{b};;Deux;;Cycle;1992-07-08;69123;;;{b}",  # own parent
            f"{ELOISE};;d'Aubigné-Laval;;Éloïse;1985-03-14;75011;;;{JEAN_PIERRE}",  # has a child
        ),
    )
    assert report.inserted == 0 and report.updated == 0
    assert [reason for _, reason in report.rejected] == [
        "parent_nir : ce parent est lui-même rattaché à un parent.",
        "parent_nir : identique au nir de la même ligne.",
        "parent_nir : des enfants sont déjà rattachés à cette personne.",
    ]
    c, d = "260013300511885", "188101305520195"
    report = import_csv(
        "insured",
        insured_text(
            f"{c};;Trois;;Boucle;1960-01-01;33000;;;{d}",
            f"{d};;Quatre;;Boucle;1988-10-13;13055;;;{c}",
        ),
    )
    assert report.inserted == 0 and len(report.rejected) == 2


def test_professional_import_hashes_codes_and_keeps_legacy_hash_forgotten(load):
    report = load("professional", "professionals.csv")
    assert (report.total, report.inserted, report.rejected) == (4, 4, [])
    raw = repr(db.session.execute(text("SELECT * FROM registry_professional")).all())
    assert "4821" not in raw and "7730" not in raw
    hugo = find_professional("130000029")
    assert hugo.address == "3, boulevard Longchamp" and hugo.email is None
    forget_legacy_password(hugo)
    claire = find_professional("750000010")
    claire_code = claire.confidential_code_hash
    db.session.commit()
    report = load("professional", "professionals.csv")
    assert (report.inserted, report.updated) == (0, 4)
    assert find_professional("130000029").legacy_password_hash is None  # not brought back
    assert find_professional("750000010").confidential_code_hash == claire_code
    assert find_professional("690000039").legacy_password_hash.startswith("{SHA256}")


def test_professional_rows_with_errors(app_ctx):
    header = "finess;birth_family_name;given_names;email;confidential_code;legacy_password_hash;address;postcode;city\n"
    rows = [
        "750000011;Faux;Luhn;;;;1 rue A;75001;Paris",
        "750000010;Lefèvre;Claire;;12;;1 rue A;75001;Paris",
        "130000029;Durand;Hugo;;;{MD5}abc;1 rue A;13001;Marseille",
        "690000039;N'Diaye;Awa;;;;;69002;Lyon",
        "200000040;Casanova;Ange;;;;1 cours Napoléon;20000;" + "A" * 151,
        "330000050;Bordes;Jean;;;;1 quai;33000;Bordeaux",
        "330000050;Bordes;Jean;;;;1 quai;33000;Bordeaux",
    ]
    report = import_csv("professional", io.StringIO(header + "\n".join(rows)))
    reasons = dict(report.rejected)
    assert report.inserted == 1
    assert reasons[2].startswith("finess : ")
    assert reasons[3] == "confidential_code : de 4 à 64 caractères."
    assert reasons[4].startswith("legacy_password_hash : format non reconnu")
    assert reasons[5] == "address : ce champ est obligatoire."
    assert reasons[6] == "city : 150 caractères au maximum."
    assert reasons[8] == "finess : déjà présent ligne 7."


def test_import_is_audited_with_counts_and_no_nir(load):
    load("insured", "insured.csv")
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.event == "registry.imported"))
    assert event.details == {
        "kind": "insured",
        "total": 4,
        "inserted": 4,
        "updated": 0,
        "rejected": 0,
        "strict": False,
        "applied": True,
    }


def test_unknown_kind_is_a_programming_error(app_ctx):
    with pytest.raises(ValueError):
        import_csv("interns", io.StringIO(""))  # type: ignore[arg-type]


def test_lookup_uses_the_keyed_hash(load):
    load("insured", "insured.csv")
    stored = db.session.scalars(select(InsuredRecord.nir_hash)).all()
    assert nir_hash(ELOISE) in stored and len(nir_hash(ELOISE)) == 64
