"""Named exceptions shared across packages."""


class IdpError(Exception):
    """Base class of the provider's own errors."""


class ConfigError(IdpError):
    """A setting is missing or unsafe."""


class InvalidCredentials(IdpError):
    """Identifier or password wrong (one message for both).

    `locked`: the account this failure has just locked (its owner is told), or None.
    """

    def __init__(self, *args: object, locked: object = None):
        super().__init__(*args)
        self.locked = locked


class AccountUnavailable(IdpError):
    """The account exists but may not log in (pending, locked, disabled, deleting).

    Raised only after the right password; `account` is the account concerned.
    """

    def __init__(self, *args: object, account: object = None):
        super().__init__(*args)
        self.account = account


class NoSigningKey(IdpError):
    """No active signing key: run `idp keys generate`."""
