import os
import stat

import pytest
from joserfc import jwt

from idp.oidc.keys import KeyStore


def test_generate_creates_active_then_next_key_with_private_mode(tmp_path):
    store = KeyStore(tmp_path)
    active = store.generate("RS256")
    nxt = store.generate("ES256")
    assert (active.status, nxt.status) == ("active", "next")
    for path in tmp_path.glob("*.json"):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    published = {k["kid"]: k for k in store.public_jwks()["keys"]}
    assert set(published) == {active.kid, nxt.kid}
    assert published[nxt.kid]["alg"] == "ES256" and published[nxt.kid]["kty"] == "EC"
    assert all("d" not in k for k in published.values()), "private parts must never be published"
    with pytest.raises(ValueError):
        store.generate("RS256")


def test_rotation_keeps_old_signatures_verifiable(tmp_path):
    store = KeyStore(tmp_path)
    store.generate("RS256")
    old_meta, old_key = store.signing_key()
    token = jwt.encode({"alg": "RS256", "kid": old_meta.kid}, {"sub": "x"}, old_key)
    promoted = store.rotate("RS256")
    assert promoted.kid != old_meta.kid
    assert store.signing_key()[0].kid == promoted.kid
    statuses = {k.kid: k.status for k in store.all()}
    assert statuses[old_meta.kid] == "retired"
    assert sorted(statuses.values()) == ["active", "next", "retired"]
    # A portal holding a token signed before the rotation still verifies it.
    assert jwt.decode(token, store.verification_keyset()).claims["sub"] == "x"
    assert old_meta.kid in {k["kid"] for k in store.public_jwks()["keys"]}


def test_retired_key_leaves_jwks_and_disk_after_retention(tmp_path):
    store = KeyStore(tmp_path, retention_days=0)
    first = store.generate("ES256")
    store.rotate("ES256")
    assert first.kid not in {k["kid"] for k in store.public_jwks()["keys"]}
    assert not (tmp_path / f"{first.kid}.json").exists()


def test_rotate_promotes_next_key_that_portals_already_cached(tmp_path):
    store = KeyStore(tmp_path)
    store.generate("RS256")
    nxt = store.generate("RS256")
    assert store.rotate("RS256").kid == nxt.kid


def test_store_sees_keys_written_by_another_process(tmp_path):
    reader, writer = KeyStore(tmp_path), KeyStore(tmp_path)
    assert reader.public_jwks() == {"keys": []}
    key = writer.generate("RS256")
    assert [k["kid"] for k in reader.public_jwks()["keys"]] == [key.kid]


def test_missing_directory_means_no_key(tmp_path):
    from idp.errors import NoSigningKey

    store = KeyStore(tmp_path / "absent")
    assert store.all() == []
    with pytest.raises(NoSigningKey):
        store.signing_key()
