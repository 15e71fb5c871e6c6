"""Run idp with demo data, the five demo portals and a mail catcher.

python -m demo   (or `make demo`): migrates the SQLite database in instance/, creates
a signing key, registers the portals and demo accounts (idempotent), then serves
idp on :5000, the portals on :5100 and the mail catcher on SMTP :1025.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from flask_migrate import upgrade
from werkzeug.serving import make_server

from demo.mailcatcher import MailCatcher
from demo.portals import DEMO_PORTALS
from demo.portals import create_portals_app
from idp import create_app
from idp.accounts import create_account
from idp.auth.services import find_account
from idp.enrolment import validators
from idp.enrolment.services import add_identifier
from idp.enrolment.services import identifier_in_use
from idp.extensions import db
from idp.federation.standin import create_standin_app
from idp.federation.standin import standin_config
from idp.oidc.clients import create_client
from idp.oidc.clients import get_client
from idp.oidc.clients import rotate_secret
from idp.oidc.clients import update_client
from idp.registry.services import import_csv

HOST = "127.0.0.1"
# Sign-up journey of each demo portal (the others get theirs with the registry issue).
JOURNEYS = {
    "portail-citoyen": "citoyen",
    "ars-internes": "ars-interne",
    "ameli": "ameli",
    "espace-pro": "pro-sante",
    "mon-espace-sante": "mon-espace-sante",
}
DATA = Path(__file__).resolve().parent / "data"
IDP_PORT = int(os.environ.get("DEMO_IDP_PORT", "5000"))
PORTALS_PORT = int(os.environ.get("DEMO_PORTALS_PORT", "5100"))
SMTP_PORT = int(os.environ.get("DEMO_SMTP_PORT", "1025"))
FC_PORT = int(os.environ.get("DEMO_FC_PORT", "5200"))
FC_PRESET = os.environ.get("DEMO_FC_PRESET", "franceconnect")
# More upstream stand-ins: FranceConnect+ for the health portals, Pro Santé Connect for the
# professionals' space; FranceConnect (above) for the other portals.
FC_PLUS_PORT = int(os.environ.get("DEMO_FC_PLUS_PORT", "5201"))
PSC_PORT = int(os.environ.get("DEMO_PSC_PORT", "5202"))
MORE_UPSTREAMS = (
    ("franceconnect-plus", FC_PLUS_PORT, ["ameli", "mon-espace-sante"]),
    ("pro-sante-connect", PSC_PORT, ["pro-sante"]),
)
DEMO_PEOPLE = (
    ("marie.curie@example.fr", "Demo-Sante-2026", "Marie", "CURIE", "1967-11-07"),
    ("louis.pasteur@example.fr", "Demo-Sante-2026", "Louis", "PASTEUR", "1972-12-27"),
)
# ameli's login asks for the n° de sécurité sociale, Espace pro's for the N° tiers (FINESS);
# the other portals take the email. So each demo person holds those too.
DEMO_IDENTIFIERS = {
    "marie.curie@example.fr": (("nir", "2 67 11 75 056 123 46"), ("finess", "750000028")),
    "louis.pasteur@example.fr": (("nir", "1 72 12 69 123 045 37"), ("finess", "750000036")),
}
IDENTIFIER_NAMES = {"nir": "ameli : n° de sécurité sociale", "finess": "Espace pro : N° tiers"}
# Console operators: (email, password, given name, family name, role).
DEMO_OPERATORS = (
    ("admin@example.fr", "Demo-Console-2026", "Alice", "OPERATRICE", "admin"),
    ("accueil@example.fr", "Demo-Console-2026", "Hugo", "CONSEILLER", "helpdesk"),
)


def seed(app, base_url: str, secrets_file: Path) -> list[dict]:
    """Register the demo portals and accounts; return the portals' client settings."""
    known = json.loads(secrets_file.read_text()) if secrets_file.exists() else {}
    portals = []
    with app.app_context():
        upgrade()
        store = app.extensions["idp_keys"]
        if not any(k.status == "active" for k in store.all()):
            store.generate(app.config["KEY_ALG"])
        for slug, name in DEMO_PORTALS:
            client_id = f"demo-{slug}"
            client = get_client(client_id)
            if client is None:
                secret = create_client(
                    name=name,
                    client_id=client_id,
                    redirect_uris=[f"{base_url}/{slug}/callback"],
                    post_logout_redirect_uris=[f"{base_url}/{slug}/logged-out"],
                    backchannel_logout_uri=f"{base_url}/{slug}/backchannel-logout",
                    scope="openid profile email phone address",
                    require_consent=slug == "portail-citoyen",
                    journey=JOURNEYS.get(slug),
                ).secret
            elif client_id in known:
                secret = known[client_id]
            else:
                secret = rotate_secret(client)
            known[client_id] = secret
            if client is not None and client.journey != JOURNEYS.get(slug):
                update_client(client, journey=JOURNEYS.get(slug))
            portals.append(
                {"slug": slug, "name": name, "client_id": client_id, "client_secret": secret}
            )
        for email, password, given, family, born in DEMO_PEOPLE:
            person = find_account(email)
            if person is None:
                import datetime as dt

                person = create_account(
                    email=email,
                    password=password,
                    given_name=given,
                    family_name=family,
                    birthdate=dt.date.fromisoformat(born),
                    active=True,
                )
                db.session.flush()
            for kind, shown in DEMO_IDENTIFIERS[email]:
                value = getattr(validators, kind)(shown)
                if not identifier_in_use(kind, value):  # also in a demo database seeded before
                    add_identifier(person, kind, value)
        from idp.admin.services import grant_role

        for email, password, given, family, role in DEMO_OPERATORS:
            operator = find_account(email) or create_account(
                email=email, password=password, given_name=given, family_name=family, active=True
            )
            db.session.flush()
            grant_role(operator, role)
        for kind in ("insured", "professional"):
            path = DATA / f"{kind}.csv"
            if path.exists():
                with path.open(encoding="utf-8") as stream:
                    import_csv(kind, stream)
        db.session.commit()
    secrets_file.write_text(json.dumps(known))
    os.chmod(secrets_file, 0o600)
    return portals


def main() -> None:
    issuer = os.environ.get("IDP_ISSUER", f"http://{HOST}:{IDP_PORT}")
    base_url = f"http://{HOST}:{PORTALS_PORT}"
    fc = standin_config(issuer, FC_PORT, preset=FC_PRESET, host=HOST)
    more = {
        name: (
            standin_config(issuer, port, preset=name, host=HOST, upstream=name),
            port,
            journeys,
        )
        for name, port, journeys in MORE_UPSTREAMS
    }
    app = create_app(
        {
            "ISSUER": issuer,
            "SMTP_PORT": SMTP_PORT,
            "FRANCECONNECT_ISSUER": fc["issuer"],
            "FRANCECONNECT_CLIENT_ID": fc["clients"][0]["client_id"],
            "FRANCECONNECT_CLIENT_SECRET": fc["clients"][0]["client_secret"],
            "FRANCECONNECT_PRESET": FC_PRESET,
            "UPSTREAMS": [
                {
                    "name": name,
                    "preset": name,
                    "issuer": config["issuer"],
                    "client_id": config["clients"][0]["client_id"],
                    "client_secret": config["clients"][0]["client_secret"],
                    "journeys": journeys,
                }
                for name, (config, _port, journeys) in more.items()
            ],
        }
    )
    portals = seed(app, base_url, Path(app.instance_path) / "demo_portals.json")

    catcher = MailCatcher(HOST, SMTP_PORT)
    catcher.start()
    portals_app = create_portals_app(
        {
            "issuer": issuer,
            "base_url": base_url,
            "secret_key": app.config["SECRET_KEY"] + "-demo-portals",
            "portals": portals,
            "mailcatcher": catcher,
        }
    )
    portal_server = make_server(HOST, PORTALS_PORT, portals_app, threaded=True)
    threading.Thread(target=portal_server.serve_forever, daemon=True).start()
    standin_servers = [
        make_server(HOST, port, create_standin_app(config), threaded=True)
        for config, port in [(fc, FC_PORT), *[(c, p) for c, p, _ in more.values()]]
    ]
    for server in standin_servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()

    print(
        f"""
idp est prêt.
  Fournisseur d'identité : {issuer}/
  Portails de démonstration : {base_url}/
  Courriels reçus (catcher) : {base_url}/mails/
  Découverte OIDC : {issuer}/.well-known/openid-configuration
  FranceConnect (simulateur local) : {fc["issuer"]}/.well-known/openid-configuration
    (portails citoyens ; à déclarer : {issuer}/federation/franceconnect/callback,
    {issuer}/federation/franceconnect/logged-out)
  FranceConnect+ (simulateur local, ameli et Mon espace santé) :
    {more["franceconnect-plus"][0]["issuer"]} ; à déclarer :
    {issuer}/federation/franceconnect-plus/callback,
    {issuer}/federation/franceconnect-plus/logged-out, JWKS {issuer}/federation/jwks.json
  Pro Santé Connect (simulateur local, Espace pro) : {more["pro-sante-connect"][0]["issuer"]}

Comptes de démonstration :"""
    )
    for email, password, *_ in DEMO_PEOPLE:
        print(f"  {email} / {password}")
        for kind, shown in DEMO_IDENTIFIERS[email]:
            print(f"    sur {IDENTIFIER_NAMES[kind]} {shown}")
    print(
        f"\nConsole d'administration : {issuer}/admin/ (code de vérification : voir les courriels)"
    )
    for email, password, _given, _family, role in DEMO_OPERATORS:
        print(f"  {email} / {password} ({'administration' if role == 'admin' else 'assistance'})")
    print(
        "\nCréation de compte ameli (registre de démonstration) : nom DUBOIS ou MARTIN,"
        "\n  NIR 2 62 08 75 107 123 71, né(e) le 24/08/1962, code postal 75007."
        "\nActivation Mon espace santé : même personne, n° de série 01024576124."
        "\nCréation de compte Espace pro : N° tiers 750000010, mot de passe actuel"
        "\n  Ancien-2014 ou numéro confidentiel 4821 7730 1196."
    )
    print("\nCtrl+C pour arrêter.", flush=True)
    idp_server = make_server(HOST, IDP_PORT, app, threaded=True)
    try:
        idp_server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        catcher.stop()
        portal_server.shutdown()
        for server in standin_servers:
            server.shutdown()


if __name__ == "__main__":
    main()
