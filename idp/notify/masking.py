"""Recipients shown masked (CLI, logs, "we sent a code to m***@example.fr")."""

from __future__ import annotations

import phonenumbers


def mask_email(address: str) -> str:
    """`marie.curie@example.fr` → `m***@example.fr`."""
    local, at, domain = address.rpartition("@")
    if not at:
        return "***"
    return f"{local[:1]}***@{domain}"


def mask_phone(number: str) -> str:
    """`+33612345678` → `+33 6 ** ** ** 78`: country code, first and last two digits."""
    try:
        parsed = phonenumbers.parse(number, "FR")
    except phonenumbers.NumberParseException:
        return "***"
    national = phonenumbers.national_significant_number(parsed)
    if len(national) < 4:
        return f"+{parsed.country_code} ***"
    if parsed.country_code == 33 and len(national) == 9:
        return f"+33 {national[0]} ** ** ** {national[-2:]}"
    return f"+{parsed.country_code} {national[0]}{'*' * (len(national) - 3)}{national[-2:]}"


def mask_recipient(channel: str, recipient: str) -> str:
    return mask_phone(recipient) if channel == "sms" else mask_email(recipient)
