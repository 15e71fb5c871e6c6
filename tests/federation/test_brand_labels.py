"""Mon compte names the upstream that certified a field or was linked: FranceConnect,
FranceConnect+ or Pro Santé Connect, never "FranceConnect" for all of them."""

from __future__ import annotations

import html

from idp.extensions import db
from idp.security import audit
from tests.federation.conftest import PLUS
from tests.federation.conftest import PSC
from tests.federation.test_mon_compte_upstreams import ANGELA
from tests.federation.test_mon_compte_upstreams import link_from_mon_compte
from tests.federation.test_mon_compte_upstreams import logged_in


def identity_section(page) -> str:
    return html.unescape(page.text.split('id="identite"')[1].split("</section>")[0])


def dd_of(section: str, label: str) -> str:
    return section.split(f">{label}</dt>")[1].split("</dd>")[0]


def activity(page) -> list[str]:
    table = html.unescape(page.text.split('id="activite"')[1].split("</section>")[0])
    return [row.split("<td>")[2].split("</td>")[0] for row in table.split("<tr>")[2:]]


def test_badges_and_activity_name_each_upstream(multi):
    browser, person = logged_in(multi, **ANGELA)

    page = link_from_mon_compte(browser, PSC, "angela")
    identity = identity_section(page)
    # Pro Santé Connect certifies the names only.
    assert "certifié par Pro Santé Connect" in dd_of(identity, "Prénoms")
    assert "certifié par Pro Santé Connect" in dd_of(identity, "Nom de naissance")
    assert "certifié" not in dd_of(identity, "Date de naissance")
    assert "FranceConnect" not in identity
    assert "Les informations certifiées par Pro Santé Connect ne peuvent pas" in identity
    assert "Liaison avec Pro Santé Connect" in activity(page)
    assert "Liaison avec FranceConnect" not in activity(page)

    page = link_from_mon_compte(browser, PLUS, "angela")
    identity = identity_section(page)
    assert "certifié par FranceConnect+, Pro Santé Connect" in dd_of(identity, "Prénoms")
    assert "certifié par FranceConnect+<" in dd_of(identity, "Date de naissance")
    assert "certifiées par FranceConnect+, Pro Santé Connect ne peuvent pas" in identity
    labels = activity(page)
    assert labels.index("Liaison avec FranceConnect+") < labels.index(
        "Liaison avec Pro Santé Connect"
    )

    browser.submit(f"/mon-compte/{PSC}/delier", {})
    page = browser.get("/mon-compte")
    identity = identity_section(page)
    assert "Pro Santé Connect" not in identity
    assert "certifié par FranceConnect+" in dd_of(identity, "Prénoms")
    assert activity(page)[0] == "Fin de la liaison avec Pro Santé Connect"


def test_older_events_fall_back_on_the_brand_of_their_preset(multi):
    browser, person = logged_in(multi, **ANGELA)
    with multi.idp.app_context():
        # An upstream since removed from the configuration, and an event from before
        # upstreams had names.
        audit.record("federation.linked", account_id=person.id, provider=PLUS, upstream="ancien-fc")
        audit.record("federation.unlinked", account_id=person.id, provider="franceconnect")
        db.session.commit()
    labels = activity(browser.get("/mon-compte"))
    assert "Liaison avec FranceConnect+" in labels
    assert "Fin de la liaison avec FranceConnect" in labels
