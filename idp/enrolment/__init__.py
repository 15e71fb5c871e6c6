"""Sign-up and activation journeys."""

from flask import Blueprint

bp = Blueprint("enrolment", __name__)

from idp.enrolment import activation  # noqa: E402,F401
from idp.enrolment import ameli  # noqa: E402,F401  (registers the journey)
from idp.enrolment import ars_interne  # noqa: E402,F401  (registers the journey)
from idp.enrolment import citoyen  # noqa: E402,F401  (registers the journey)
from idp.enrolment import mon_espace_sante  # noqa: E402,F401  (registers the journey)
from idp.enrolment import mon_espace_sante_opposition  # noqa: E402,F401  (registers the journey)
from idp.enrolment import pro_sante  # noqa: E402,F401  (registers the journey)
from idp.enrolment import pro_sante_request  # noqa: E402,F401  (its pages)
from idp.enrolment import views  # noqa: E402,F401
