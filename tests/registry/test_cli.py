"""`idp registry …` and `idp letters export`, as an operator runs them."""

import csv
import logging
import re
import stat

import pytest
from sqlalchemy import select

from idp.extensions import db
from idp.models import AuditEvent
from idp.registry.models import InsuredRecord
from idp.registry.models import LetterRequest
from idp.registry.services import check_confidential_code
from idp.registry.services import find_professional
from idp.registry.services import queue_letter
from tests.registry.conftest import DATA
from tests.registry.conftest import assert_no_nir


def run(runner, *args):
    return runner.invoke(args=[str(a) for a in args])


def import_(runner, kind, name, *options):
    return run(runner, "registry", "import", "--kind", kind, *options, DATA / name)


def test_import_prints_the_report_without_any_nir(app, runner, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    result = import_(runner, "insured", "insured_errors.csv")
    assert result.exit_code == 0, result.output
    assert "8 ligne(s), 1 ajoutée(s), 0 mise(s) à jour, 7 rejetée(s)" in result.output
    assert "ligne 3 : nir : Ce n° de sécurité sociale n'est pas valide" in result.output
    assert "ligne 6 : nir : déjà présent ligne 2." in result.output
    result = import_(runner, "insured", "insured.csv")
    assert result.exit_code == 0 and "4 ajoutée(s)" in result.output
    captured = capsys.readouterr()
    assert_no_nir(result.output + caplog.text + captured.out + captured.err)


def test_reimport_counts_updates(runner):
    import_(runner, "insured", "insured.csv")
    result = import_(runner, "insured", "insured_comma_bom.csv")
    assert "4 ligne(s), 0 ajoutée(s), 4 mise(s) à jour, 0 rejetée(s)" in result.output


def test_strict_import_exits_1_and_imports_nothing(app, runner):
    result = import_(runner, "insured", "insured_errors.csv", "--strict")
    assert result.exit_code == 1
    assert "Mode strict : fichier rejeté" in result.output
    with app.app_context():
        assert db.session.scalars(select(InsuredRecord)).all() == []
        # The refused attempt is still audited.
        assert db.session.scalar(select(AuditEvent.details))["applied"] is False


@pytest.mark.parametrize("name", ["insured_latin1.csv", "professionals.csv"])
def test_unreadable_file_or_wrong_header_exits_1(app, runner, name):
    result = import_(runner, "insured", name)
    assert result.exit_code == 1
    assert "Rien n'a été importé" in result.output
    with app.app_context():
        assert db.session.scalars(select(InsuredRecord)).all() == []
        assert db.session.scalars(select(AuditEvent)).all() == []


def test_count_and_list_mask_the_nir(runner):
    import_(runner, "insured", "insured.csv")
    import_(runner, "professional", "professionals.csv")
    assert run(runner, "registry", "count").output.strip() == (
        "insured=4 professional=4 letters_pending=0"
    )
    assert run(runner, "registry", "count", "--kind", "insured").output.strip() == "insured=4"
    listed = run(runner, "registry", "list", "--kind", "insured")
    assert listed.exit_code == 0
    lines = {line.split("\t")[2]: line for line in listed.output.splitlines()}
    assert len(lines) == 4
    eloise, lea = lines["Éloïse Marie d'Aubigné-Laval"], lines["Léa Martin"]
    assert "\t2 85 ** ** *** *** 05\tÉloïse Marie d'Aubigné-Laval\tMartin\t1985-03-14\t" in eloise
    assert eloise.endswith("\t75011\tcarte=oui\tparent=-")
    assert "carte=non" in lea and f"parent={eloise.split()[0]}" in lea
    assert_no_nir(listed.output)
    assert (
        len(
            run(runner, "registry", "list", "--kind", "insured", "--limit", "2").output.splitlines()
        )
        == 2
    )
    pros = run(runner, "registry", "list", "--kind", "professional").output
    assert "750000010\tClaire Lefèvre\t75002 Paris\tcode=oui\tancien_mdp=non" in pros
    assert "130000029\tHugo Durand\t13001 Marseille\tcode=non\tancien_mdp=oui" in pros
    assert "4821" not in pros and "SSHA" not in pros


def queue_three(app):
    with app.app_context():
        for finess in ("750000010", "130000029", "200000040"):
            queue_letter(find_professional(finess), "confidential_code")
        db.session.commit()


def test_letters_export_csv_with_new_codes(app, runner, tmp_path):
    import_(runner, "professional", "professionals.csv")
    queue_three(app)
    assert run(runner, "registry", "count").output.strip().endswith("letters_pending=3")
    output = tmp_path / "courriers.csv"
    result = run(runner, "letters", "export", "--format", "csv", "--output", output)
    assert result.exit_code == 0, result.output
    assert "3 courrier(s) exporté(s)" in result.output
    assert stat.S_IMODE(output.stat().st_mode) == 0o600
    assert output.read_bytes().startswith(b"\xef\xbb\xbf")
    with output.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter=";"))
    assert [r["finess"] for r in rows] == ["750000010", "130000029", "200000040"]
    claire = rows[0]
    assert claire["name"] == "Claire Lefèvre"
    assert (claire["address"], claire["postcode"], claire["city"]) == (
        "12 rue de la Paix",
        "75002",
        "Paris",
    )
    assert rows[1]["address"] == "3, boulevard Longchamp"
    assert re.fullmatch(r"\d{4} \d{4} \d{4}", claire["code"])
    assert claire["code"] in claire["content"] and "numéro confidentiel" in claire["content"]
    assert "750000010" in claire["content"]
    assert claire["code"] not in result.output
    with app.app_context():
        record = find_professional("750000010")
        assert check_confidential_code(record, claire["code"])
        assert not check_confidential_code(record, "4821 7730 1196")  # the imported one
        assert all(letter.exported_at for letter in db.session.scalars(select(LetterRequest)))
        event = db.session.scalar(
            select(AuditEvent).where(AuditEvent.event == "registry.letters_exported")
        )
        assert event.details == {"count": 3, "format": "csv"}
    again = run(runner, "letters", "export", "--format", "csv", "--output", tmp_path / "x.csv")
    assert again.exit_code == 0 and "Aucun courrier" in again.output
    assert not (tmp_path / "x.csv").exists()


def test_letters_export_pdf_one_page_per_letter(app, runner, tmp_path):
    import_(runner, "professional", "professionals.csv")
    queue_three(app)
    output = tmp_path / "courriers.pdf"
    result = run(runner, "letters", "export", "--format", "pdf", "--output", output)
    assert result.exit_code == 0, result.output
    pdf = output.read_bytes()
    assert pdf.startswith(b"%PDF-")
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) == 3
    assert stat.S_IMODE(output.stat().st_mode) == 0o600
    assert list(tmp_path.iterdir()) == [output]  # no partial file left behind
    with app.app_context():
        assert (
            db.session.scalar(select(db.func.count()).where(LetterRequest.exported_at.is_(None)))
            == 0
        )


def test_failed_export_keeps_letters_and_codes(app, runner, tmp_path):
    import_(runner, "professional", "professionals.csv")
    queue_three(app)
    result = run(
        runner, "letters", "export", "--format", "csv", "--output", tmp_path / "missing" / "x.csv"
    )
    assert result.exit_code == 1 and "Écriture impossible" in result.output
    with app.app_context():
        assert check_confidential_code(find_professional("750000010"), "4821 7730 1196")
        assert (
            db.session.scalar(select(db.func.count()).where(LetterRequest.exported_at.is_(None)))
            == 3
        )
