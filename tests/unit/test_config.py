import os
import stat

import pytest

from idp.config import load_config
from idp.config import validate_config
from idp.errors import ConfigError


def test_env_variables_override_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("IDP_ISSUER", "https://idp.sante.example/")
    monkeypatch.setenv("IDP_CODE_LIFETIME", "30")
    config = load_config(tmp_path)
    assert config["ISSUER"] == "https://idp.sante.example"
    assert config["CODE_LIFETIME"] == 30


def test_instance_config_file_is_read(tmp_path, monkeypatch):
    monkeypatch.delenv("IDP_ISSUER", raising=False)
    (tmp_path / "config.py").write_text('ISSUER = "https://from-file.example"\n')
    assert load_config(tmp_path)["ISSUER"] == "https://from-file.example"


def test_secret_key_is_generated_once_into_instance(tmp_path, monkeypatch):
    monkeypatch.delenv("IDP_SECRET_KEY", raising=False)
    first = load_config(tmp_path)["SECRET_KEY"]
    assert len(first) >= 32
    assert load_config(tmp_path)["SECRET_KEY"] == first
    assert stat.S_IMODE(os.stat(tmp_path / "secret_key").st_mode) == 0o600


def test_default_database_is_sqlite_in_instance(tmp_path, monkeypatch):
    monkeypatch.delenv("IDP_DATABASE_URL", raising=False)
    assert load_config(tmp_path)["DATABASE_URL"] == f"sqlite:///{tmp_path / 'idp.sqlite3'}"


@pytest.mark.parametrize(
    "override",
    [
        {"SECRET_KEY": "short"},
        {"KEY_ALG": "HS256"},
        {"CODE_LIFETIME": 600},
        {"ENV": "production", "ISSUER": "http://idp.example"},
    ],
)
def test_unsafe_settings_refuse_to_start(tmp_path, override):
    config = load_config(tmp_path, {"SECRET_KEY": "x" * 40, **override})
    with pytest.raises(ConfigError):
        validate_config(config)
