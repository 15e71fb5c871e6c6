"""Portals (OIDC clients): list, create, edit, rotate the secret, disable, delete."""

from __future__ import annotations

from typing import Any

from flask import abort
from flask import flash
from flask import g
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import gettext as _

from idp.admin import bp
from idp.admin import services
from idp.admin.access import admin_only
from idp.admin.forms import ConfirmForm
from idp.admin.forms import PortalForm
from idp.extensions import db
from idp.oidc.models import Client
from idp.security import audit

FLASH = "admin"


def _portal(client_id: str) -> Client:
    client = services.get_portal(client_id)
    if client is None:
        abort(404)
    return client


def _secret_page(client: Client, secret: str, created: bool) -> Any:
    return render_template(
        "admin/portal_secret.html", client=client, secret=secret, created=created
    )


@bp.get("/portails")
@admin_only
def portals() -> Any:
    """Every registered portal."""
    return render_template("admin/portals.html", portals=services.list_portals())


@bp.route("/portails/nouveau", methods=["GET", "POST"])
@admin_only
def new_portal() -> Any:
    """Register a portal; a confidential one's secret is shown once."""
    form = PortalForm()
    error = None
    if form.validate_on_submit():
        try:
            client, secret = services.create_portal(
                g.operator, audit.origin_of(request), **form.fields_for_service(creating=True)
            )
        except services.InvalidClientMetadata as exc:
            db.session.rollback()
            error = str(exc)
        else:
            db.session.commit()
            if secret:
                return _secret_page(client, secret, created=True)
            flash(_("Le portail « %(name)s » est enregistré.", name=client.name), FLASH)
            return redirect(url_for(".edit_portal", client_id=client.client_id))
    return render_template("admin/portal_form.html", form=form, client=None, error=error), (
        400 if error or form.errors else 200
    )


@bp.route("/portails/<client_id>", methods=["GET", "POST"])
@admin_only
def edit_portal(client_id: str) -> Any:
    """Edit a portal's registration."""
    client = _portal(client_id)
    form = PortalForm()
    error = None
    if request.method == "GET":
        form.load(client)
    elif form.validate_on_submit():
        try:
            services.update_portal(
                client, g.operator, audit.origin_of(request), **form.fields_for_service(False)
            )
        except services.InvalidClientMetadata as exc:
            db.session.rollback()
            client = _portal(client_id)
            error = str(exc)
        else:
            db.session.commit()
            flash(_("Les modifications sont enregistrées."), FLASH)
            return redirect(url_for(".edit_portal", client_id=client_id))
    status = 400 if error or form.errors else 200
    return render_template(
        "admin/portal_form.html", form=form, client=client, error=error, actions=ConfirmForm()
    ), status


def _confirmed() -> None:
    if not ConfirmForm().validate_on_submit():
        abort(400)


@bp.post("/portails/<client_id>/secret")
@admin_only
def rotate_secret(client_id: str) -> Any:
    """A new secret, shown once; the previous one stops working."""
    client = _portal(client_id)
    _confirmed()
    try:
        secret = services.rotate_portal_secret(client, g.operator, audit.origin_of(request))
    except services.InvalidClientMetadata:
        db.session.rollback()
        flash(_("Un portail public n'a pas de secret."), "admin_error")
        return redirect(url_for(".edit_portal", client_id=client_id))
    db.session.commit()
    return _secret_page(client, secret, created=False)


@bp.post("/portails/<client_id>/activation")
@admin_only
def toggle_portal(client_id: str) -> Any:
    """Disable a portal (its tokens are revoked) or enable it again."""
    client = _portal(client_id)
    _confirmed()
    disable = request.form.get("disabled") == "1"
    services.set_portal_disabled(client, disable, g.operator, audit.origin_of(request))
    db.session.commit()
    flash(_("Le portail est désactivé.") if disable else _("Le portail est réactivé."), FLASH)
    return redirect(url_for(".edit_portal", client_id=client_id))


@bp.post("/portails/<client_id>/suppression")
@admin_only
def delete_portal(client_id: str) -> Any:
    """Delete a portal, its tokens and consents (the name must be typed to confirm)."""
    client = _portal(client_id)
    _confirmed()
    if request.form.get("confirm_client_id", "").strip() != client.client_id:
        flash(_("Recopiez l'identifiant du portail pour confirmer la suppression."), "admin_error")
        return redirect(url_for(".edit_portal", client_id=client_id) + "#suppression")
    name = client.name
    services.delete_portal(client, g.operator, audit.origin_of(request))
    db.session.commit()
    flash(_("Le portail « %(name)s » est supprimé.", name=name), FLASH)
    return redirect(url_for(".portals"))
