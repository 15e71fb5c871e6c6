"""`mon-espace-sante-opposition` journey (seed 002: "Je peux aussi clôturer ou m'opposer à Mon
espace santé"): the same identity proof as the activation, then one decision that depends on
the current status — oppose (no account needed), lift the opposition, close, reactivate.
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

from idp.enrolment import mon_espace_sante_services as mes
from idp.enrolment import mon_espace_sante_views as views
from idp.enrolment.engine import Journey
from idp.enrolment.engine import Step
from idp.enrolment.engine import register
from idp.enrolment.engine import remember
from idp.enrolment.models import Enrolment
from idp.enrolment.models import HealthSpace
from idp.enrolment.mon_espace_sante import BIRTHDATE
from idp.enrolment.mon_espace_sante import CARD
from idp.enrolment.mon_espace_sante import CHANNEL
from idp.enrolment.mon_espace_sante import TEMPLATES
from idp.enrolment.mon_espace_sante import code_step
from idp.enrolment.mon_espace_sante import is_child
from idp.enrolment.mon_espace_sante import nir_of
from idp.enrolment.mon_espace_sante import proven
from idp.enrolment.mon_espace_sante_forms import DecisionForm
from idp.enrolment.mon_espace_sante_forms import ProvisionalCodeForm


def save_code_opposition(enrolment: Enrolment, form: ProvisionalCodeForm) -> None:
    proven(enrolment)
    space = mes.space_for_nir(nir_of(enrolment))
    remember(enrolment, decision_offered=mes.DECISIONS[space.status if space else None])


def decision_context(enrolment: Enrolment, form: DecisionForm) -> dict[str, Any]:
    offered = enrolment.data.get("decision_offered", "opposer")
    form.offer(offered)
    space = mes.space_for_nir(nir_of(enrolment))
    return {"offered": offered, "space": space, "child": is_child(enrolment)}


def save_decision(enrolment: Enrolment, form: DecisionForm) -> None:
    remember(enrolment, decision=form.decision.data)


def finish_opposition(enrolment: Enrolment, origin: Any) -> HealthSpace:
    """Apply the decision; ValueError if the status changed meanwhile."""
    return mes.decide(nir_of(enrolment), enrolment.data["decision"], origin)


OPPOSITION = register(
    Journey(
        name=mes.OPPOSITION_JOURNEY,
        title=_l("Clôturer ou m'opposer à Mon espace santé"),
        steps=(
            BIRTHDATE,
            CARD,
            CHANNEL,
            code_step(save_code_opposition),
            Step(
                "decision",
                _l("Ma décision"),
                DecisionForm,
                TEMPLATES + "decision.html",
                save_decision,
                None,
                decision_context,
            ),
        ),
        policy="mon-espace-sante",
        channels=("email", "sms"),
        identifier="nir",
        finish=finish_opposition,
        conclude=views.conclude_opposition,
    )
)
