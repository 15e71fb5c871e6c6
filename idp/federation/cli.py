"""`idp federation`: encryption keys for FranceConnect+, and a check of the upstream."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from idp.federation import encryption_keys
from idp.federation import upstreams
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
    """Fetch each upstream's discovery document and JWKS with the configured settings."""
    clients = upstreams()
    if not clients:
        raise click.ClickException(
            "Aucun fournisseur amont : IDP_FRANCECONNECT_ISSUER ou IDP_UPSTREAMS."
        )
    failed = False
    for name, client in clients.items():
        try:
            metadata = client.metadata()
            keys = client.keyset(refresh=True)
        except UpstreamError as exc:
            click.echo(f"[{name}] {exc.reason}: {exc.detail}", err=True)
            failed = True
            continue
        click.echo(f"[{name}] issuer: {metadata['issuer']}")
        click.echo(f"[{name}] preset: {client.preset.name}, acr_values: {client.settings.acr}")
        click.echo(f"[{name}] scopes: {client.settings.scopes}")
        click.echo(f"[{name}] signing keys: {len(keys.keys)}")
        supported = " ".join(metadata.get("acr_values_supported", []))
        click.echo(f"[{name}] acr_values_supported: {supported}")
    if failed:
        raise click.ClickException("Un fournisseur amont ne répond pas correctement.")
