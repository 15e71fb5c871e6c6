"""A generic upstream OpenID client: Authlib's OAuth2Session for the protocol, joserfc for JOSE.

FranceConnect specifics (see shared/FRANCECONNECT.md) come from the preset: client
authentication is always `client_secret_post` (Authlib defaults to basic, which FC
refuses), `acr_values` is always sent, the userinfo answer is a signed JWT that Authlib's
`userinfo()` cannot read (we fetch and verify it ourselves), and on FranceConnect+ both
the ID token and the userinfo JWT are JWE for idp's encryption keys.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any

import requests
from authlib.common.urls import add_params_to_uri
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwe
from joserfc import jwt
from joserfc.errors import BadSignatureError
from joserfc.errors import InvalidKeyIdError
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from idp.federation.keys import EncryptionKeys
from idp.federation.presets import Preset
from idp.security import tokens

# Clock skew tolerated on exp/iat (FC's ID tokens live 60 s).
LEEWAY = 30
JWE_ALGORITHMS = ["RSA-OAEP", "RSA-OAEP-256", "A256GCM"]


class UpstreamError(Exception):
    """The upstream provider failed or sent something we refuse; `reason` says which.

    Reasons: cancelled, refused, unreachable, timeout, upstream_error, bad_state,
    bad_issuer, bad_token, bad_signature, bad_nonce, low_acr, bad_userinfo.
    """

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail[:200]


@dataclass(frozen=True)
class UpstreamSettings:
    name: str
    issuer: str
    client_id: str
    client_secret: str
    preset: Preset
    scopes: str
    acr: str | None
    timeout: float
    cache_seconds: int
    # FranceConnect accepts only client_secret_post; other providers may take basic.
    token_auth: str = "client_secret_post"  # noqa: S105 (a method name)


@dataclass(frozen=True)
class TokenSet:
    access_token: str
    id_token: str
    claims: dict[str, Any]


class UpstreamClient:
    """One configured upstream provider; discovery and JWKS cached per process."""

    def __init__(self, settings: UpstreamSettings, encryption: EncryptionKeys | None = None):
        self.settings = settings
        self.preset = settings.preset
        self.encryption = encryption
        self._lock = threading.Lock()
        self._metadata: tuple[float, dict[str, Any]] | None = None
        self._jwks: tuple[float, KeySet] | None = None

    def passed_levels(self) -> list[str]:
        """The acr values a login through this upstream may carry into idp's tokens: the
        level requested and the higher ones the platform may answer with."""
        wanted = self.settings.acr
        if not wanted:
            return []
        higher = [lv for lv in self.preset.requestable if self.preset.acr_satisfies(lv, wanted)]
        return [wanted, *[lv for lv in higher if lv != wanted]]

    def acr_for(self, required: str | None) -> str | None:
        """The acr_values to ask for a login: the configured level, or the level the portal
        being logged into needs when that is higher and this platform may be asked it
        (FranceConnect+ for a portal that needs eidas3). Asked less, the answer would come
        back below the portal's need and the person would have logged in for nothing."""
        wanted = self.settings.acr
        if (
            required
            and wanted
            and required in self.preset.requestable
            and not self.preset.acr_satisfies(wanted, required)
        ):
            return required
        return wanted

    # HTTP ----------------------------------------------------------------------------------
    def _http(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        try:
            response = requests.request(method, url, timeout=self.settings.timeout, **kwargs)
        except requests.Timeout as exc:
            raise UpstreamError("timeout", url) from exc
        except requests.RequestException as exc:
            raise UpstreamError("unreachable", f"{url}: {type(exc).__name__}") from exc
        if response.status_code >= 500:
            raise UpstreamError("upstream_error", f"{url}: HTTP {response.status_code}")
        return response

    def _json(self, url: str) -> dict[str, Any]:
        response = self._http("GET", url, headers={"Accept": "application/json"})
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.status_code != 200 or not isinstance(data, dict):
            raise UpstreamError("upstream_error", f"{url}: HTTP {response.status_code}")
        return data

    # Discovery and keys ----------------------------------------------------------------------
    def metadata(self) -> dict[str, Any]:
        """The discovery document (Discovery 1.0 §4), cached; its issuer must be ours."""
        cached = self._metadata
        if cached and cached[0] > time.monotonic():
            return cached[1]
        with self._lock:
            url = self.settings.issuer.rstrip("/") + "/.well-known/openid-configuration"
            data = self._json(url)
            # Discovery 1.0 §4.3: the issuer in the document is exactly the one configured.
            if data.get("issuer") != self.settings.issuer:
                raise UpstreamError("bad_issuer", f"discovery issuer {data.get('issuer')!r}")
            for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                if not isinstance(data.get(key), str):
                    raise UpstreamError("upstream_error", f"discovery without {key}")
            self._metadata = (time.monotonic() + self.settings.cache_seconds, data)
            return data

    def keyset(self, refresh: bool = False) -> KeySet:
        cached = self._jwks
        if cached and not refresh and cached[0] > time.monotonic():
            return cached[1]
        with self._lock:
            data = self._json(self.metadata()["jwks_uri"])
            try:
                keys = KeySet.import_key_set(
                    {"keys": [k for k in data.get("keys", []) if k.get("use", "sig") == "sig"]}
                )
            except (JoseError, ValueError, TypeError) as exc:
                raise UpstreamError("upstream_error", "unreadable JWKS") from exc
            self._jwks = (time.monotonic() + self.settings.cache_seconds, keys)
            return keys

    # Authorization request -------------------------------------------------------------------
    def authorization_url(self, redirect_uri: str, state: str, nonce: str, acr: str | None) -> str:
        params: dict[str, Any] = {"nonce": nonce}
        if acr:
            params["acr_values"] = acr
        if self.preset.request_amr:
            params["claims"] = json.dumps(
                {"id_token": {"amr": {"essential": True}}}, separators=(",", ":")
            )
        session = OAuth2Session(
            self.settings.client_id, scope=self.settings.scopes, redirect_uri=redirect_uri
        )
        # Authlib would generate a 30-character state; FC wants ours (64 hex characters).
        url, _ = session.create_authorization_url(
            self.metadata()["authorization_endpoint"], state=state, **params
        )
        return url

    # Token -----------------------------------------------------------------------------------
    def exchange(self, code: str, redirect_uri: str) -> tuple[str, str]:
        """Redeem the code: (access_token, raw ID token). client_secret_post on FranceConnect."""
        session = OAuth2Session(
            self.settings.client_id,
            self.settings.client_secret,
            token_endpoint_auth_method=self.settings.token_auth,
            default_timeout=self.settings.timeout,
        )
        endpoint = self.metadata()["token_endpoint"]
        try:
            token = session.fetch_token(endpoint, code=code, redirect_uri=redirect_uri)
        except requests.Timeout as exc:
            raise UpstreamError("timeout", endpoint) from exc
        except requests.HTTPError as exc:
            raise UpstreamError("upstream_error", f"token: {exc.response.status_code}") from exc
        except requests.RequestException as exc:
            raise UpstreamError("unreachable", f"token: {type(exc).__name__}") from exc
        except OAuthError as exc:
            raise UpstreamError("refused", f"token: {exc.error}") from exc
        except ValueError as exc:
            raise UpstreamError("upstream_error", "token: not JSON") from exc
        finally:
            session.close()
        if not token.get("access_token") or not token.get("id_token"):
            raise UpstreamError("bad_token", "token response without access_token or id_token")
        return token["access_token"], token["id_token"]

    # JOSE ------------------------------------------------------------------------------------
    def _decode(self, value: str) -> dict[str, Any]:
        """Decrypt (FC+) then verify the signature against the JWKS (re-fetched once)."""
        value = value.strip()
        if value.count(".") == 4:
            if not self.preset.encrypted or self.encryption is None:
                raise UpstreamError("bad_token", "unexpected JWE")
            try:
                value = jwe.decrypt_compact(
                    value, self.encryption.private_keyset(), algorithms=JWE_ALGORITHMS
                ).plaintext.decode()
            except (JoseError, ValueError) as exc:
                raise UpstreamError("bad_token", f"JWE: {exc}") from exc
        elif self.preset.encrypted:
            raise UpstreamError("bad_token", "FranceConnect+ tokens must be encrypted")
        algorithms = list(self.preset.signing_algs)
        try:
            try:
                token = jwt.decode(value, self.keyset(), algorithms=algorithms)
            except InvalidKeyIdError:
                # The provider rotated its keys: fetch the JWKS again, once.
                token = jwt.decode(value, self.keyset(refresh=True), algorithms=algorithms)
        except BadSignatureError as exc:
            raise UpstreamError("bad_signature", "signature") from exc
        except (JoseError, ValueError) as exc:
            raise UpstreamError("bad_token", f"JWS: {exc}") from exc
        return dict(token.claims)

    def _audience_ok(self, claims: dict[str, Any]) -> bool:
        aud = claims.get("aud")
        client_id = self.settings.client_id
        if isinstance(aud, str):
            return aud == client_id
        if isinstance(aud, list) and client_id in aud:
            # OIDC Core 3.1.3.7 (3, 4): several audiences need azp = us.
            return len(aud) == 1 or claims.get("azp") == client_id
        return False

    def verify_id_token(
        self, raw: str, nonce_hash: str | None, acr_wanted: str | None
    ) -> dict[str, Any]:
        """OIDC Core 3.1.3.7: signature, iss, aud, exp, iat, nonce, then acr ≥ requested."""
        claims = self._decode(raw)
        if claims.get("iss") != self.settings.issuer:
            raise UpstreamError("bad_issuer", "ID token: iss")
        registry = jwt.JWTClaimsRegistry(
            leeway=LEEWAY,
            iss={"essential": True, "value": self.settings.issuer},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
        )
        try:
            registry.validate(claims)
        except JoseError as exc:
            raise UpstreamError("bad_token", f"ID token: {exc}") from exc
        if not self._audience_ok(claims):
            raise UpstreamError("bad_token", "ID token: aud")
        nonce = claims.get("nonce")
        if not isinstance(nonce, str) or not tokens.same(tokens.sha256(nonce), nonce_hash):
            raise UpstreamError("bad_nonce", "ID token: nonce")
        if not self.preset.acr_satisfies(claims.get("acr"), acr_wanted):
            raise UpstreamError("low_acr", f"acr {claims.get('acr')!r} < {acr_wanted!r}")
        return claims

    def userinfo(self, access_token: str, subject: str) -> dict[str, Any]:
        """Fetch the userinfo (a signed JWT on FranceConnect) and check it is about `subject`."""
        endpoint = self.metadata().get("userinfo_endpoint")
        if not endpoint:
            return {"sub": subject}
        response = self._http(
            "GET",
            endpoint,
            headers={"Authorization": f"Bearer {access_token}", "Accept": "application/jwt"},
        )
        if response.status_code != 200:
            raise UpstreamError("bad_userinfo", f"HTTP {response.status_code}")
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type == "application/jwt":
            claims = self._decode(response.text)
            if "iss" in claims and claims["iss"] != self.settings.issuer:
                raise UpstreamError("bad_userinfo", "iss")
            if "aud" in claims and not self._audience_ok(claims):
                raise UpstreamError("bad_userinfo", "aud")
        elif self.preset.userinfo_jwt:
            raise UpstreamError("bad_userinfo", f"content type {content_type!r}")
        else:
            try:
                claims = response.json()
            except ValueError as exc:
                raise UpstreamError("bad_userinfo", "not JSON") from exc
        # OIDC Core 5.3.2: the userinfo sub must be the ID token's.
        if not isinstance(claims, dict) or claims.get("sub") != subject:
            raise UpstreamError("bad_userinfo", "sub")
        return claims

    # Logout ----------------------------------------------------------------------------------
    def end_session_url(self, id_token: str, state: str, post_logout_redirect_uri: str) -> str:
        endpoint = self.metadata().get("end_session_endpoint")
        if not endpoint:
            raise UpstreamError("upstream_error", "no end_session_endpoint")
        return add_params_to_uri(
            endpoint,
            [
                ("id_token_hint", id_token),
                ("state", state),
                ("post_logout_redirect_uri", post_logout_redirect_uri),
            ],
        )
