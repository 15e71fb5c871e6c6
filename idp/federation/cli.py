"""`idp federation`: encryption keys for FranceConnect+, and a check of the upstream."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from idp.federation import encryption_keys
from idp.federation import upstream
from idp.federation.client import UpstreamError

federation_cli = AppGroup("federation", help="Upstream providers (FranceConnect).")
keys_cli = AppGroup("keys", help="Encryption keys published for FranceConnect+.")
federation_cli.add_command(keys_cli)


@keys_cli.command("generate")
def keys_generate() -> None:
    """Create an encryption key; it is listed first in /federation/jwks.json."""
    stored = encryption_keys(current_app.config).generate()
    click.echo(f"{stored['kid']} {stored['alg']}")


@keys_cli.command("list")
def keys_list() -> None:
    """List the encryption keys (all of them decrypt; the first one is preferred)."""
    for stored in encryption_keys(current_app.config).all():
        click.echo(f"{stored['kid']} {stored['alg']} created {stored['created_at'][:10]}")


@federation_cli.command("check")
def check() -> None:
    """Fetch the upstream discovery document and JWKS with the configured settings."""
    client = upstream()
    if client is None:
        raise click.ClickException("IDP_FRANCECONNECT_ISSUER n'est pas configuré.")
    try:
        metadata = client.metadata()
        keys = client.keyset(refresh=True)
    except UpstreamError as exc:
        raise click.ClickException(f"{exc.reason}: {exc.detail}") from exc
    click.echo(f"issuer: {metadata['issuer']}")
    click.echo(f"preset: {client.preset.name}, acr_values: {client.settings.acr}")
    click.echo(f"scopes: {client.settings.scopes}")
    click.echo(f"signing keys: {len(keys.keys)}")
    click.echo(f"acr_values_supported: {' '.join(metadata.get('acr_values_supported', []))}")
