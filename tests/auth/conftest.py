"""Login and recovery fixtures: the real SMTP server of tests/smtp.py."""

from tests.smtp import smtp_server  # noqa: F401
