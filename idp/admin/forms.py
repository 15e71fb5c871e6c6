"""Forms of the admin and helpdesk console."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField
from wtforms import DateField
from wtforms import IntegerField
from wtforms import SelectField
from wtforms import SelectMultipleField
from wtforms import StringField
from wtforms import TextAreaField
from wtforms import widgets
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired
from wtforms.validators import Length
from wtforms.validators import NumberRange
from wtforms.validators import Optional
from wtforms.validators import Regexp

from idp.oidc.claims import IDENTIFIER_CLAIMS
from idp.oidc.claims import SCOPE_CLAIMS
from idp.oidc.clients import GRANTS
from idp.oidc.clients import LIFETIME_BOUNDS

OFF = {"autocomplete": "off", "spellcheck": "false"}


class ConfirmForm(FlaskForm):
    """A button that only carries the CSRF token."""


class CheckboxesField(SelectMultipleField):
    """Several choices shown as DSFR checkboxes."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


def _choices(pairs: Any) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in pairs]


def _lines(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def _lifetime(label: Any, name: str) -> IntegerField:
    low, high = LIFETIME_BOUNDS[name]
    return IntegerField(
        label,
        description=_l(
            "En secondes, de %(low)s à %(high)s ; vide : durée par défaut du serveur.",
            low=low,
            high=high,
        ),
        validators=[
            Optional(),
            NumberRange(low, high, _l("Durée hors limites (%(min)s à %(max)s secondes).")),
        ],
        render_kw={"autocomplete": "off", "inputmode": "numeric"},
    )


class PortalForm(FlaskForm):
    """A portal's registration: created or edited by an administrator."""

    name = StringField(
        _l("Nom du portail"),
        validators=[DataRequired(_l("Indiquez le nom du portail.")), Length(max=150)],
        render_kw={"autocomplete": "off"},
    )
    client_id = StringField(
        _l("Identifiant du client (client_id)"),
        description=_l("Facultatif : tiré au hasard si vide. Lettres, chiffres, - et _."),
        validators=[
            Optional(),
            Length(max=64),
            Regexp(r"^[A-Za-z0-9_-]+$", message=_l("Lettres, chiffres, - et _ seulement.")),
        ],
        render_kw=OFF,
    )
    logo_uri = StringField(
        _l("Adresse du logo"),
        description=_l("https (ou boucle locale), sans joker ni fragment."),
        validators=[Optional(), Length(max=500)],
        render_kw={"autocomplete": "off", "inputmode": "url", "spellcheck": "false"},
    )
    redirect_uris = TextAreaField(
        _l("URI de redirection"),
        description=_l("Une par ligne ; https obligatoire (sauf boucle locale), ni joker ni #."),
        render_kw=OFF,
    )
    post_logout_redirect_uris = TextAreaField(
        _l("URI de retour après déconnexion"), description=_l("Une par ligne."), render_kw=OFF
    )
    backchannel_logout_uri = StringField(
        _l("URI de déconnexion back-channel"),
        validators=[Optional(), Length(max=500)],
        render_kw={"autocomplete": "off", "inputmode": "url", "spellcheck": "false"},
    )
    grants = CheckboxesField(
        _l("Types d'autorisation"),
        choices=_choices((g, g) for g in GRANTS),
        default=["authorization_code", "refresh_token"],
    )
    scopes = CheckboxesField(
        _l("Portées autorisées"),
        choices=_choices((s, s) for s in ("openid", *SCOPE_CLAIMS)),
        default=["openid", "profile", "email"],
    )
    identifier_claims = CheckboxesField(
        _l("Identifiants transmis"),
        description=_l("Le NIR n'est jamais transmis en clair."),
        choices=_choices((c, c.upper()) for c in IDENTIFIER_CLAIMS),
    )
    token_endpoint_auth_method = SelectField(
        _l("Authentification du client"),
        choices=_choices(
            [
                ("client_secret_basic", _l("Secret, en-tête HTTP Basic (client_secret_basic)")),
                ("client_secret_post", _l("Secret, dans le corps (client_secret_post)")),
                ("none", _l("Aucune : client public avec PKCE (none)")),
            ]
        ),
        default="client_secret_basic",
        render_kw={"autocomplete": "off"},
    )
    subject_type = SelectField(
        _l("Type d'identifiant de la personne (sub)"),
        choices=_choices([("public", _l("Public")), ("pairwise", _l("Par secteur (pairwise)"))]),
        default="public",
        render_kw={"autocomplete": "off"},
    )
    require_consent = BooleanField(
        _l("Demander le consentement de la personne"), render_kw={"autocomplete": "off"}
    )
    journey = SelectField(_l("Parcours d'inscription"), render_kw={"autocomplete": "off"})
    password_policy = SelectField(
        _l("Politique de mot de passe"),
        description=_l("Vide : celle du parcours d'inscription."),
        render_kw={"autocomplete": "off"},
    )
    min_acr = SelectField(
        _l("Niveau d'authentification minimal"),
        choices=_choices(
            [
                ("", _l("Aucun")),
                ("eidas1", _l("eidas1 : mot de passe")),
                ("eidas2", _l("eidas2 : second facteur")),
                ("eidas3", "eidas3"),
            ]
        ),
        render_kw={"autocomplete": "off"},
    )
    access_token_lifetime = _lifetime(_l("Durée du jeton d'accès"), "access_token_lifetime")
    id_token_lifetime = _lifetime(_l("Durée du jeton d'identité"), "id_token_lifetime")
    refresh_token_lifetime = _lifetime(
        _l("Durée du jeton de rafraîchissement"), "refresh_token_lifetime"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from idp.enrolment.engine import JOURNEYS
        from idp.security.password_policy import POLICIES

        super().__init__(*args, **kwargs)
        self.journey.choices = _choices([("", _l("Aucun")), *((j, j) for j in sorted(JOURNEYS))])
        self.password_policy.choices = _choices(
            [("", _l("Celle du parcours")), *((p, p) for p in sorted(POLICIES))]
        )

    def fields_for_service(self, creating: bool) -> dict[str, Any]:
        """The values as services.create_portal / update_portal take them."""
        fields = {
            "name": self.name.data,
            "logo_uri": (self.logo_uri.data or "").strip() or None,
            "redirect_uris": _lines(self.redirect_uris.data),
            "post_logout_redirect_uris": _lines(self.post_logout_redirect_uris.data),
            "backchannel_logout_uri": (self.backchannel_logout_uri.data or "").strip() or None,
            "grants": list(self.grants.data or []),
            "scope": " ".join(self.scopes.data or []),
            "identifier_claims": list(self.identifier_claims.data or []),
            "token_endpoint_auth_method": self.token_endpoint_auth_method.data,
            "subject_type": self.subject_type.data,
            "require_consent": bool(self.require_consent.data),
            "journey": self.journey.data or None,
            "password_policy": self.password_policy.data or None,
            "min_acr": self.min_acr.data or None,
            "access_token_lifetime": self.access_token_lifetime.data,
            "id_token_lifetime": self.id_token_lifetime.data,
            "refresh_token_lifetime": self.refresh_token_lifetime.data,
        }
        if creating:
            fields["public"] = self.token_endpoint_auth_method.data == "none"
            if self.client_id.data:
                fields["client_id"] = self.client_id.data.strip()
        return fields

    def load(self, client: Any) -> None:
        """Fill the form with a portal's registration (GET of the edit page)."""
        self.name.data = client.name
        self.logo_uri.data = client.logo_uri
        self.redirect_uris.data = "\n".join(client.redirect_uris)
        self.post_logout_redirect_uris.data = "\n".join(client.post_logout_redirect_uris)
        self.backchannel_logout_uri.data = client.backchannel_logout_uri
        self.grants.data = list(client.grant_types)
        self.scopes.data = (client.scope or "").split()
        self.identifier_claims.data = list(client.identifier_claims or [])
        self.token_endpoint_auth_method.data = client.token_endpoint_auth_method
        self.subject_type.data = client.subject_type
        self.require_consent.data = client.require_consent
        self.journey.data = client.journey or ""
        self.password_policy.data = client.password_policy or ""
        self.min_acr.data = getattr(client, "min_acr", None) or ""
        self.access_token_lifetime.data = client.access_token_lifetime
        self.id_token_lifetime.data = client.id_token_lifetime
        self.refresh_token_lifetime.data = client.refresh_token_lifetime


class ReviewForm(FlaskForm):
    """Accept or reject a sign-up under review; a rejection needs a reason."""

    decision = SelectField(
        _l("Décision"),
        choices=_choices([("accepted", _l("Accepter")), ("rejected", _l("Refuser"))]),
        validators=[DataRequired()],
        render_kw={"autocomplete": "off"},
    )
    reason = TextAreaField(
        _l("Motif du refus"),
        description=_l("Obligatoire en cas de refus ; il sera envoyé à la personne."),
        validators=[Length(max=1000)],
        render_kw={"autocomplete": "off"},
    )


class SecretAnswerForm(FlaskForm):
    """The answer the person gives on the phone, typed by the agent."""

    answer = StringField(
        _l("Réponse donnée par la personne"),
        description=_l("La réponse enregistrée n'est jamais affichée : seul le résultat l'est."),
        validators=[DataRequired(_l("Saisissez la réponse donnée.")), Length(max=100)],
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )


class AuditFilterForm(FlaskForm):
    """Filters of the audit log (GET: no CSRF token, nothing changes)."""

    class Meta:
        csrf = False

    person = StringField(
        _l("Personne (adresse électronique ou n° de compte)"),
        validators=[Optional(), Length(max=254)],
        render_kw=OFF,
    )
    client_id = StringField(
        _l("Portail (client_id)"), validators=[Optional(), Length(max=64)], render_kw=OFF
    )
    event = StringField(
        _l("Type d'événement"),
        description=_l(
            "Par exemple login.failed, ou admin pour toutes les actions du back-office."
        ),
        validators=[Optional(), Length(max=64)],
        render_kw=OFF,
    )
    since = DateField(
        _l("Du"), validators=[Optional()], render_kw={"autocomplete": "off"}, format="%Y-%m-%d"
    )
    until = DateField(
        _l("Au (inclus)"),
        validators=[Optional()],
        render_kw={"autocomplete": "off"},
        format="%Y-%m-%d",
    )
