"""`idp outbox`: send, inspect and purge queued mails and SMS."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from idp.cli import Text
from idp.cli import limit_option
from idp.extensions import db
from idp.notify import outbox
from idp.notify.masking import mask_recipient

outbox_cli = AppGroup("outbox", help="Mails and SMS waiting in the outbox.")


@outbox_cli.command("run")
@limit_option(100, "Messages to try at most.")
@click.option("--now", "now", is_flag=True, help="Do not wait for the backoff of failed ones.")
def outbox_run(limit: int, now: bool) -> None:
    """Send the messages that are due (run from cron)."""
    report = outbox.process(limit, ignore_schedule=now)
    left = outbox.counts()
    click.echo(
        f"sent={report.sent} failed={report.failed} "
        f"pending={left['pending']} given_up={left['failed']}"
    )


@outbox_cli.command("list")
@limit_option(50, "Unsent messages to show.")
def outbox_list(limit: int) -> None:
    """Count messages by state and show the unsent ones (recipients masked)."""
    totals = outbox.counts()
    click.echo(" ".join(f"{state}={count}" for state, count in totals.items()))
    for message in outbox.unsent(limit):
        state = "pending" if message.attempts < outbox.max_attempts() else "failed"
        click.echo(
            "\t".join(
                (
                    str(message.id),
                    state,
                    message.channel,
                    message.template,
                    mask_recipient(message.channel, message.recipient),
                    f"attempts={message.attempts}",
                    f"next={message.next_attempt_at:%Y-%m-%d %H:%M:%S}",
                    message.last_error or "-",
                )
            )
        )


@outbox_cli.command("test")
@click.option(
    "--to", "address", type=Text(254), default=None, help="Send the test mail to this address."
)
@click.option(
    "--sms", "number", type=Text(32), default=None, help="Send the test SMS to this number."
)
@click.option("--portal-name", type=Text(150), default=None, help="Portal named in the message.")
def outbox_test(address: str | None, number: str | None, portal_name: str | None) -> None:
    """Queue and send a test mail (and/or SMS) to check the SMTP and SMS settings."""
    from idp.accounts import InvalidAccountData
    from idp.accounts import normalise_email
    from idp.notify.mail import send_mail
    from idp.notify.sms import send_sms

    if not address and not number:
        raise click.UsageError("--to ADDRESS or --sms NUMBER is required.")
    # send_mail only keeps an address out of the headers' syntax; check it for real here,
    # or an undeliverable test message stays in the outbox.
    try:
        address = normalise_email(address) if address else None
    except InvalidAccountData as exc:
        raise click.BadParameter(str(exc), param_hint="'--to'") from None
    queued = []
    try:
        if address:
            queued.append(send_mail("test", to=address, portal_name=portal_name))
        if number:
            queued.append(send_sms("test", to=number, portal_name=portal_name))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    failed = False
    for message in queued:
        ok = outbox.deliver(message, ignore_schedule=True)
        who = mask_recipient(message.channel, message.recipient)
        if ok:
            click.echo(f"{message.channel} #{message.id} sent to {who}")
        else:
            failed = True
            click.echo(f"{message.channel} #{message.id} to {who} failed: {message.last_error}")
    if failed:
        raise click.ClickException("delivery failed; the message stays in the outbox")


@outbox_cli.command("purge")
@click.option(
    "--days",
    type=click.IntRange(0, 36_500),
    default=30,
    show_default=True,
    help="Keep messages this many days.",
)
def outbox_purge(days: int) -> None:
    """Delete messages sent (or given up) more than N days ago."""
    deleted = outbox.purge_sent(days)
    db.session.commit()
    click.echo(f"deleted={deleted}")
