from argon2 import PasswordHasher

from idp.security.passwords import hash_password
from idp.security.passwords import hasher
from idp.security.passwords import verify_password


def test_hash_is_argon2id_and_verifies(app_ctx):
    stored = hash_password("Un-mot-de-passe-1")
    assert stored.startswith("$argon2id$")
    assert verify_password(stored, "Un-mot-de-passe-1") == (True, None)
    assert verify_password(stored, "autre") == (False, None)


def test_missing_hash_never_verifies(app_ctx):
    assert verify_password(None, "dummy password for timing equalisation") == (False, None)


def test_hash_with_old_parameters_is_upgraded_on_login(app_ctx):
    weaker = PasswordHasher(memory_cost=512, time_cost=1, parallelism=1).hash("Ancien-1")
    ok, new_hash = verify_password(weaker, "Ancien-1")
    assert ok and new_hash is not None
    assert f"m={hasher().memory_cost}" in new_hash


def test_default_parameters_are_owasp_minimum(tmp_path):
    from idp.config import Defaults

    assert (Defaults.ARGON2_MEMORY_KIB, Defaults.ARGON2_TIME_COST, Defaults.ARGON2_PARALLELISM) == (
        19 * 1024,
        2,
        1,
    )
