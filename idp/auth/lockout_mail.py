"""The mail telling an account's owner that repeated failures have locked it."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import current_app
from flask import url_for

from idp import notify
from idp.auth.lockout import Locked
from idp.models import utcnow


def local_time(moment) -> str:
    """A date and time as people read it, in the display time zone."""
    zone = ZoneInfo(current_app.config["DISPLAY_TIMEZONE"])
    return moment.astimezone(zone).strftime("%d/%m/%Y à %H:%M")


def send_locked_mail(locked: Locked) -> None:
    """Queue the mail (the caller commits, then dispatches)."""
    account = locked.account
    if not account.email:
        return
    minutes = max(1, round((locked.until - utcnow()).total_seconds() / 60))
    notify.send_mail(
        "login_locked",
        to=account.email,
        given_name=account.given_name,
        when=local_time(utcnow()),
        ip_range=locked.ip_range,
        minutes=minutes,
        reset_url=url_for("auth.forgotten_password", _external=True),
    )
