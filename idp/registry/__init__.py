"""Reference registries that enrolment checks identity against (insured people, professionals).

Operators import them from CSV files (`idp registry import`); postal letters queued for
professionals are exported for the print shop (`idp letters export`).
"""

from __future__ import annotations

from flask import Flask

from idp.registry import models  # noqa: F401  (registers the tables on Base.metadata)


def init_app(app: Flask) -> None:
    """Register the `registry` and `letters` command groups."""
    from idp.registry.cli import letters_cli
    from idp.registry.cli import registry_cli

    app.cli.add_command(registry_cli)
    app.cli.add_command(letters_cli)
