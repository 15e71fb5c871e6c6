"""Registry fixtures: sample files (fake people, valid keys) and their NIRs."""

from __future__ import annotations

from pathlib import Path

import pytest

from idp.extensions import db
from idp.registry.services import import_csv

DATA = Path(__file__).parent / "data"

# NIRs of data/insured.csv (keys computed as 97 - number % 97; 2A/2B count as 19/18).
LEA = "215067511145646"  # a child of ELOISE, listed before her
ELOISE = "285037511112305"
JEAN_PIERRE = "155122A00432182"  # born in Corse-du-Sud
PAUL = "170012B03300797"  # born in Haute-Corse
ALL_NIRS = (LEA, ELOISE, JEAN_PIERRE, PAUL)


def spaced(nir: str) -> str:
    """ "285037511112305" → "2 85 03 75 111 123 05", as people type it."""
    return " ".join((nir[0], nir[1:3], nir[3:5], nir[5:7], nir[7:10], nir[10:13], nir[13:]))


def assert_no_nir(text: str) -> None:
    for nir in ALL_NIRS:
        assert nir not in text and spaced(nir) not in text


@pytest.fixture
def load(app_ctx):
    """Import a file of data/ and commit, as the CLI does; returns the report."""

    def run(kind: str, name: str, **kwargs):
        with (DATA / name).open("rb") as fh:
            report = import_csv(kind, fh, **kwargs)
        db.session.commit()
        return report

    return run
