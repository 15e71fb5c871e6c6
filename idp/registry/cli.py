"""`idp registry` (import, count, list) and `idp letters export`."""

from __future__ import annotations

import os
from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy import func
from sqlalchemy import select

from idp.cli import limit_option
from idp.extensions import db
from idp.registry.models import InsuredRecord
from idp.registry.models import LetterRequest
from idp.registry.models import ProfessionalRecord

registry_cli = AppGroup("registry", help="Reference registries (insured people, professionals).")
letters_cli = AppGroup("letters", help="Postal letters for the print shop.")

KINDS = click.Choice(["insured", "professional"])
MODELS = {"insured": InsuredRecord, "professional": ProfessionalRecord}


@registry_cli.command("import")
@click.option("--kind", type=KINDS, required=True)
@click.option("--strict", is_flag=True, help="Any rejected row rejects the whole file.")
# A path opened here, not click.File: click leaves a file it opened open when another
# parameter is then refused.
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def registry_import(kind: str, strict: bool, file: Path) -> None:
    """Import a CSV file (UTF-8, ";" or ","); rows with errors are rejected, the rest imported."""
    from idp.registry.csvrows import InvalidImportFile
    from idp.registry.importer import import_csv

    try:
        with file.open("rb") as stream:
            report = import_csv(kind, stream, strict=strict)  # type: ignore[arg-type]
    except OSError as exc:
        db.session.rollback()
        raise click.ClickException(f"Lecture impossible : {file} ({exc.strerror}).") from None
    except InvalidImportFile as exc:
        db.session.rollback()
        raise click.ClickException(f"{exc} Rien n'a été importé.") from None
    db.session.commit()
    click.echo(
        f"{kind} : {report.total} ligne(s), {report.inserted} ajoutée(s), "
        f"{report.updated} mise(s) à jour, {len(report.rejected)} rejetée(s)"
    )
    for line, reason in report.rejected:
        click.echo(f"ligne {line} : {reason}")
    if strict and report.rejected:
        raise click.ClickException("Mode strict : fichier rejeté, rien n'a été importé.")


@registry_cli.command("count")
@click.option("--kind", type=KINDS, default=None)
def registry_count(kind: str | None) -> None:
    """Count the records of each registry (and the letters waiting for export)."""
    kinds = [kind] if kind else list(MODELS)
    counts = {k: db.session.scalar(select(func.count()).select_from(MODELS[k])) for k in kinds}
    if not kind:
        waiting = select(func.count()).where(LetterRequest.exported_at.is_(None))
        counts["letters_pending"] = db.session.scalar(waiting)
    click.echo(" ".join(f"{k}={v}" for k, v in counts.items()))


@registry_cli.command("list")
@click.option("--kind", type=KINDS, required=True)
@limit_option(20, "Records to show.")
def registry_list(kind: str, limit: int) -> None:
    """Show the first records (NIR masked, codes and passwords only as yes/no)."""
    from idp.registry.services import mask_nir

    model = MODELS[kind]
    for record in db.session.scalars(select(model).order_by(model.id).limit(limit)):
        if isinstance(record, InsuredRecord):
            fields = [
                mask_nir(record.nir()),
                f"{record.given_names} {record.birth_family_name}",
                record.usage_family_name or "-",
                record.birthdate.isoformat(),
                record.postcode,
                f"carte={'oui' if record.card_serial else 'non'}",
                f"parent={record.parent_id or '-'}",
            ]
        else:
            fields = [
                record.finess,
                f"{record.given_names} {record.birth_family_name}",
                f"{record.postcode} {record.city}",
                f"code={'oui' if record.confidential_code_hash else 'non'}",
                f"ancien_mdp={'oui' if record.legacy_password_hash else 'non'}",
            ]
        click.echo("\t".join([str(record.id), *fields]))


@letters_cli.command("export")
@click.option("--format", "fmt", type=click.Choice(["csv", "pdf"]), required=True)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
def letters_export(fmt: str, output: Path) -> None:
    """Write the letters not exported yet (new confidential codes in clear) and mark them sent."""
    from idp.registry.letters import take_pending
    from idp.registry.letters import write_csv
    from idp.registry.letters import write_pdf
    from idp.security import audit

    if output.name in ("", ".", ".."):
        raise click.BadParameter("un nom de fichier est attendu.", param_hint="'--output'")
    letters = take_pending()
    if not letters:
        db.session.rollback()
        click.echo("Aucun courrier à exporter.")
        return
    # Written beside the target, committed, then renamed: the codes stored and the file
    # printed always agree, and a failed export leaves neither.
    partial = output.with_name(f".{output.name}.partial")
    try:
        (write_csv if fmt == "csv" else write_pdf)(letters, partial)
        audit.record("registry.letters_exported", count=len(letters), format=fmt)
        db.session.commit()
    except BaseException as exc:
        db.session.rollback()
        partial.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            message = f"Écriture impossible : {output} ({exc.strerror})."
            raise click.ClickException(message) from None
        raise
    os.replace(partial, output)
    click.echo(f"{len(letters)} courrier(s) exporté(s) dans {output}")
