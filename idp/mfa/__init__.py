"""Second factor and step-up: TOTP, recovery codes, codes by SMS or mail, remembered devices.

Contract for other packages: `url_for("mfa.step_up", next=path)` brings a logged-in person
to eidas2 and back to `path`; `services.session_has_second_factor(sso_session)`.
"""

from flask import Blueprint

bp = Blueprint("mfa", __name__)

from idp.mfa import manage  # noqa: E402,F401
from idp.mfa import models  # noqa: E402,F401  (registers the tables on Base.metadata)
from idp.mfa import views  # noqa: E402,F401
