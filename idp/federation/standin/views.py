"""The stand-in's endpoints, under the issuer's path (/api/v2 like FranceConnect v2)."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from typing import Any

from authlib.common.urls import add_params_to_uri
from flask import Blueprint
from flask import current_app
from flask import jsonify
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for

from idp.federation.standin import StandinState
from idp.federation.standin import jose
from idp.federation.standin.identities import BY_KEY
from idp.federation.standin.identities import IDENTITIES

bp = Blueprint("standin", __name__, template_folder="templates")

# Scope → claims (FranceConnect v2; `profile`, `birth`, `identite_pivot` are aliases).
CLAIMS = ("given_name", "family_name", "preferred_username", "birthdate", "gender",
          "birthplace", "birthcountry", "email")  # fmt: skip
ALIASES = {
    "profile": ("given_name", "family_name", "preferred_username", "birthdate", "gender"),
    "birth": ("birthplace", "birthcountry"),
    "identite_pivot": ("given_name", "family_name", "birthdate", "gender", "birthplace",
                       "birthcountry"),
    # Pro Santé Connect's single scope.
    "scope_all": CLAIMS,
}  # fmt: skip
MIN_RANDOM = 22  # state and nonce: at least 22 characters


def current_state() -> StandinState:
    return current_app.extensions["standin"]


def error_page(message: str, status: int = 400):
    return render_template("standin/error.html", message=message), status


def pairwise_sub(client_id: str, identity_key: str) -> str:
    """Pairwise: 64 hexadecimal characters + "v1", per client and person."""
    return hashlib.sha256(f"{client_id}|{identity_key}".encode()).hexdigest() + "v1"


def claims_for(scopes: set[str], identity_claims: dict[str, Any]) -> dict[str, Any]:
    names = {s for s in scopes if s in CLAIMS}
    for alias, members in ALIASES.items():
        if alias in scopes:
            names.update(members)
    out = {n: identity_claims[n] for n in sorted(names) if n in identity_claims}
    if "given_name" in out and "given_name_array" in identity_claims:
        out["given_name_array"] = identity_claims["given_name_array"]
    return out


@bp.get("/.well-known/openid-configuration")
def discovery():
    s = current_state()
    base = s.issuer
    doc = {
        "issuer": base,
        "authorization_endpoint": base + "/authorize",
        "token_endpoint": base + "/token",
        "userinfo_endpoint": base + "/userinfo",
        "end_session_endpoint": base + "/session/end",
        "jwks_uri": base + "/jwks",
        "revocation_endpoint": base + "/token/revocation",
        "scopes_supported": ["openid", *CLAIMS, *ALIASES],
        "claims_supported": ["sub", *CLAIMS, "given_name_array", "amr", "acr"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["pairwise"],
        "acr_values_supported": list(s.levels),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
        "id_token_signing_alg_values_supported": [s.alg],
        "userinfo_signing_alg_values_supported": [s.alg],
        "claims_parameter_supported": True,
        "request_parameter_supported": False,
        "prompt_values_supported": ["login", "consent"],
        "authorization_response_iss_parameter_supported": True,
    }
    if s.encrypted:
        for what in ("id_token", "userinfo"):
            doc[f"{what}_encryption_alg_values_supported"] = ["RSA-OAEP", "RSA-OAEP-256"]
            doc[f"{what}_encryption_enc_values_supported"] = [jose.ENC]
    return jsonify(doc)


@bp.get("/jwks")
def jwks():
    return jsonify(jose.public_jwks(current_state()))


@bp.route("/authorize", methods=["GET", "POST"])
def authorize():
    """Validate like FranceConnect: a malformed request gets a page, never a redirect."""
    s = current_state()
    data = request.values
    client = s.clients.get(data.get("client_id", ""))
    if client is None:
        return error_page("Fournisseur de service inconnu (client_id).")
    redirect_uri = data.get("redirect_uri", "")
    if redirect_uri not in client["redirect_uris"]:
        return error_page("redirect_uri non enregistrée pour ce fournisseur de service.")
    scopes = set((data.get("scope") or "").split())
    prompts = set((data.get("prompt") or "").split())
    problems = [
        msg
        for bad, msg in (
            (data.get("response_type") != "code", "response_type doit valoir code"),
            ("openid" not in scopes, "le scope openid est obligatoire"),
            (len(data.get("state") or "") < MIN_RANDOM, "state absent ou trop court"),
            (len(data.get("nonce") or "") < MIN_RANDOM, "nonce absent ou trop court"),
            (not data.get("acr_values"), "acr_values est obligatoire"),
            (not prompts <= {"login", "consent"}, "prompt ne peut valoir que login ou consent"),
        )
        if bad
    ]
    acr = next((v for v in (data.get("acr_values") or "").split() if v in s.levels), None)
    if data.get("acr_values") and acr is None:
        problems.append("niveau eIDAS non proposé : " + ", ".join(s.levels))
    try:
        claims_request = json.loads(data["claims"]) if data.get("claims") else {}
    except ValueError:
        claims_request = None
    if not isinstance(claims_request, dict):
        problems.append("paramètre claims illisible")
        claims_request = {}
    if problems:
        return error_page("Requête invalide : " + " ; ".join(problems) + ".")
    unknown = scopes - {"openid", *CLAIMS, *ALIASES}
    if unknown:
        return redirect(
            add_params_to_uri(
                redirect_uri,
                [
                    ("error", "invalid_scope"),
                    ("error_description", "unknown scope"),
                    ("state", data["state"]),
                    ("iss", s.issuer),
                ],
            ),
            303,
        )
    interaction = secrets.token_urlsafe(16)
    with s.lock:
        s.interactions[interaction] = {
            "client_id": client["client_id"],
            "redirect_uri": redirect_uri,
            "state": data["state"],
            "nonce": data["nonce"],
            "acr": acr,
            "scopes": scopes,
            "amr": "amr" in (claims_request.get("id_token") or {}),
            "created": time.time(),
        }
    return redirect(url_for(".interaction", interaction=interaction), 303)


@bp.get("/interaction/<interaction>")
def interaction(interaction: str):
    s = current_state()
    found = s.interactions.get(interaction)
    if found is None:
        return error_page("Cette demande de connexion a expiré.", 410)
    return render_template(
        "standin/login.html",
        interaction=interaction,
        identities=IDENTITIES,
        acr=found["acr"],
        preset=s.preset,
        client_id=found["client_id"],
    )


@bp.post("/interaction/<interaction>/login")
def choose(interaction: str):
    s = current_state()
    with s.lock:
        found = s.interactions.pop(interaction, None)
    identity = BY_KEY.get(request.form.get("identity", ""))
    if found is None or identity is None:
        return error_page("Cette demande de connexion a expiré.", 410)
    code = secrets.token_urlsafe(32)
    with s.lock:
        s.codes[code] = {
            **found,
            "identity": identity.key,
            "auth_time": int(time.time()),
            "expires": time.time() + s.code_lifetime,
        }
    return redirect(
        add_params_to_uri(
            found["redirect_uri"], [("code", code), ("state", found["state"]), ("iss", s.issuer)]
        ),
        303,
    )


@bp.post("/interaction/<interaction>/cancel")
def cancel(interaction: str):
    s = current_state()
    with s.lock:
        found = s.interactions.pop(interaction, None)
    if found is None:
        return error_page("Cette demande de connexion a expiré.", 410)
    return redirect(
        add_params_to_uri(
            found["redirect_uri"],
            [
                ("error", "access_denied"),
                ("error_description", "User auth aborted"),
                ("state", found["state"]),
            ],
        ),
        303,
    )
