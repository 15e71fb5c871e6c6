"""The "Rôles" console screen: who holds a console role, grant one by email, revoke one.

Administrators only (a helpdesk agent gets the 403 page); the blueprint's guard already
demands an SSO session, a console role and a second factor.
"""

from __future__ import annotations

from typing import Any

from flask import abort
from flask import flash
from flask import g
from flask import redirect
from flask import render_template
from flask import url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from wtforms import SelectField
from wtforms import StringField
from wtforms.validators import DataRequired
from wtforms.validators import Length

from idp.accounts import InvalidAccountData
from idp.accounts import normalise_email
from idp.admin import bp
from idp.admin import services
from idp.admin.access import admin_only
from idp.admin.models import AccountRole
from idp.extensions import db
from idp.models import Account

FLASH = "admin"
FLASH_REFUSED = "admin_error"


def _role_choices() -> list[tuple[str, str]]:
    labels = {"admin": _l("Administrateur"), "helpdesk": _l("Assistance")}
    return [(role, labels.get(role, role)) for role in services.ROLES]


class GrantRoleForm(FlaskForm):
    """Give a console role to the account with this email address."""

    email = StringField(
        _l("Adresse électronique du compte"),
        validators=[
            DataRequired(_l("Indiquez l'adresse électronique du compte.")),
            Length(max=254, message=_l("Adresse électronique trop longue.")),
        ],
    )
    role = SelectField(
        _l("Rôle"),
        choices=_role_choices,
        validators=[DataRequired(_l("Choisissez un rôle."))],
        validate_choice=True,
    )


class RevokeRoleForm(FlaskForm):
    """Take one role back (the button carries the role and the CSRF token)."""

    role = SelectField(choices=_role_choices, validate_choice=True)


class LastAdmin(Exception):
    """Revoking this admin role would leave the console without an administrator."""


def holders() -> list[tuple[Account, list[str]]]:
    """Every account holding a console role, with its roles, by name."""
    rows = db.session.execute(
        select(Account, AccountRole.role)
        .join(AccountRole, AccountRole.account_id == Account.id)
        .order_by(Account.family_name, Account.given_name, Account.id, AccountRole.role)
    ).all()
    found: dict[int, tuple[Account, list[str]]] = {}
    for account, role in rows:
        found.setdefault(account.id, (account, []))[1].append(role)
    return list(found.values())


def revoke_checked(account: Account, role: str, actor: Account) -> bool:
    """Revoke a role, refusing to remove the last administrator's admin role."""
    if role == "admin":
        # Lock the admin rows (PostgreSQL) so that two admins revoking each other at the
        # same moment cannot both pass the check and leave nobody.
        admins = set(
            db.session.scalars(
                select(AccountRole.account_id).where(AccountRole.role == "admin").with_for_update()
            )
        )
        if account.id in admins and len(admins) <= 1:
            raise LastAdmin
    return services.revoke_role(account, role, actor=actor)


def _find_by_email(raw: str) -> Account | None:
    try:
        email = normalise_email(raw or "")
    except InvalidAccountData:
        return None
    return db.session.scalar(select(Account).where(Account.email == email))


def _page(form: GrantRoleForm, status: int = 200) -> Any:
    return (
        render_template(
            "admin/roles.html",
            holders=holders(),
            form=form,
            revoke_form=RevokeRoleForm(formdata=None),
            role_labels=dict(_role_choices()),
        ),
        status,
    )


@bp.get("/roles")
@admin_only
def roles() -> Any:
    """Accounts holding a console role; grant and revoke."""
    return _page(GrantRoleForm(formdata=None))


@bp.post("/roles")
@admin_only
def grant() -> Any:
    """Grant a role to the account found by its email address."""
    form = GrantRoleForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        return _page(form, 422)
    account = _find_by_email(form.email.data)
    if account is None:
        form.email.errors.append(_("Aucun compte n'a cette adresse électronique."))
        return _page(form, 422)
    if account.status != "active":
        form.email.errors.append(
            _("Ce compte n'est pas actif : seul un compte actif peut recevoir un rôle.")
        )
        return _page(form, 422)
    label = dict(_role_choices())[form.role.data]
    granted = services.grant_role(account, form.role.data, actor=g.operator)
    if granted:
        try:
            db.session.commit()
        except IntegrityError:  # the same grant sent twice at once: the other one wrote it
            db.session.rollback()
            granted = False
    if granted:
        flash(
            _("Rôle « %(role)s » attribué à %(name)s.", role=label, name=account.display_name),
            FLASH,
        )
    else:
        flash(
            _("%(name)s a déjà le rôle « %(role)s ».", role=label, name=account.display_name),
            FLASH_REFUSED,
        )
    return redirect(url_for(".roles"))


@bp.post("/roles/<int:account_id>/retirer")
@admin_only
def revoke(account_id: int) -> Any:
    """Take a role back; the last administrator keeps theirs."""
    form = RevokeRoleForm()
    if not form.validate_on_submit():
        abort(400)
    account = db.session.get(Account, account_id)
    if account is None:
        abort(404)
    role = form.role.data
    label = dict(_role_choices())[role]
    try:
        revoked = revoke_checked(account, role, g.operator)
    except LastAdmin:
        db.session.rollback()
        flash(
            _(
                "Impossible de retirer ce rôle : %(name)s est le dernier administrateur. "
                "Attribuez d'abord le rôle « Administrateur » à une autre personne.",
                name=account.display_name,
            ),
            FLASH_REFUSED,
        )
        return redirect(url_for(".roles"))
    if not revoked:
        db.session.rollback()
        flash(
            _("%(name)s n'a pas le rôle « %(role)s ».", role=label, name=account.display_name),
            FLASH_REFUSED,
        )
        return redirect(url_for(".roles"))
    db.session.commit()
    if account.id == g.operator.id and role == "admin":
        # The screen is no longer theirs: the console home shows what they still may see
        # (and the message); without any role left, Mon compte.
        if not services.roles_of(account):
            return redirect(url_for("account.overview"))
        flash(_("Vous n'avez plus le rôle « %(role)s ».", role=label), FLASH)
        return redirect(url_for(".index"))
    flash(_("Rôle « %(role)s » retiré à %(name)s.", role=label, name=account.display_name), FLASH)
    return redirect(url_for(".roles"))
