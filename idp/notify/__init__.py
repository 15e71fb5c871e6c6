"""Mail and SMS notifications through a durable outbox."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the notification CLI and settings."""
