"""Encryption at rest: the data key file, rotation, and the keyed lookup hash."""

import json
import stat

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from idp.errors import ConfigError
from idp.extensions import db
from idp.registry import crypto
from idp.registry.models import InsuredRecord
from idp.security.tokens import keyed_hash
from tests.registry.conftest import ELOISE
from tests.registry.conftest import assert_no_nir


@pytest.fixture
def keys_dir(app, tmp_path):
    """A fresh keys directory for this test only."""
    saved = app.config["KEYS_DIR"]
    app.config["KEYS_DIR"] = str(tmp_path)
    with app.app_context():
        yield tmp_path
    app.config["KEYS_DIR"] = saved


def test_key_file_is_created_on_first_use_with_mode_0600(keys_dir):
    path = keys_dir / "data" / "data-keys.json"
    assert not path.exists()
    token = crypto.encrypt(ELOISE)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    keys = json.loads(path.read_text())
    assert isinstance(keys, list) and len(keys) == 1
    Fernet(keys[0])  # a valid Fernet key
    assert ELOISE not in token and crypto.decrypt(token) == ELOISE
    assert crypto.encrypt(ELOISE) != token  # random IV: equal NIRs do not show


def test_signing_keys_still_load_beside_the_data_keys(keys_dir, app):
    crypto.encrypt("x")
    store = app.extensions["idp_keys"].__class__(keys_dir)
    store.generate("ES256")
    assert [k.alg for k in store.all()] == ["ES256"]


def test_rotation_new_key_first_old_tokens_still_decrypt(keys_dir):
    old_token = crypto.encrypt(ELOISE)
    path = crypto.key_file()
    old_keys = json.loads(path.read_text())
    new_key = Fernet.generate_key().decode()
    path.write_text(json.dumps([new_key, *old_keys]))
    assert crypto.decrypt(old_token) == ELOISE
    new_token = crypto.encrypt(ELOISE)
    assert Fernet(new_key).decrypt(new_token.encode()).decode() == ELOISE


def test_a_broken_key_file_is_a_config_error_without_the_keys(keys_dir):
    path = keys_dir / "data" / "data-keys.json"
    path.parent.mkdir()
    path.write_text('{"not": "a list"}')
    with pytest.raises(ConfigError) as exc:
        crypto.encrypt("x")
    assert "liste de clés Fernet" in str(exc.value)


def test_nir_hash_is_the_keyed_hash_for_nir(app_ctx):
    assert crypto.nir_hash(ELOISE) == keyed_hash(ELOISE, "nir")
    assert crypto.nir_hash(ELOISE) != keyed_hash(ELOISE, "other")


def test_the_nir_is_not_stored_in_clear(load):
    load("insured", "insured.csv")
    rows = db.session.execute(text("SELECT * FROM registry_insured")).all()
    assert len(rows) == 4
    assert_no_nir(repr(rows))
    record = db.session.scalar(
        db.select(InsuredRecord).where(InsuredRecord.nir_hash == crypto.nir_hash(ELOISE))
    )
    assert record.nir() == ELOISE
    assert ELOISE not in repr(record)


def test_a_key_file_created_meanwhile_by_another_process_is_kept(keys_dir):
    path = keys_dir / "data" / "data-keys.json"
    crypto._create(path)
    first = path.read_text()
    crypto._create(path)  # loses the race: the existing file stays
    assert path.read_text() == first
    assert sorted(p.name for p in path.parent.iterdir()) == ["data-keys.json"]
