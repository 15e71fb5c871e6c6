"""Named exceptions shared across packages."""


class IdpError(Exception):
    """Base class of the provider's own errors."""


class ConfigError(IdpError):
    """A setting is missing or unsafe."""


class InvalidCredentials(IdpError):
    """Identifier or password wrong (one message for both)."""


class AccountUnavailable(IdpError):
    """The account exists but may not log in (pending, locked, disabled)."""


class NoSigningKey(IdpError):
    """No active signing key: run `idp keys generate`."""
