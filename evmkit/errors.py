"""Errors that the command-line tools print as one clear line."""


class EvmkitError(Exception):
    """Base class: an error with a message meant for the user, never a traceback."""


class CompilerNotFound(EvmkitError):
    """No solc was found: not at the path given, not installed natively, not in node_modules."""


class CompilerError(EvmkitError):
    """solc rejected the source; the message is solc's formatted diagnostics."""


class ChainError(EvmkitError):
    """The node could not be reached, or it refused a request."""


class TransactionReverted(ChainError):
    """A transaction or call reverted; ``reason`` is the decoded error, when there is one."""

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason


class MissingKey(ChainError):
    """No signing key, or a key that is not a valid private key (the key itself is never shown)."""


class GasLimitExceeded(ChainError):
    """A transaction whose estimated gas cannot fit the block gas limit or the per-transaction cap:
    refused before anything is signed or sent, so no fee is paid for a transaction bound to fail."""
