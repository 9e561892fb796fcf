"""The exceptions vagent raises.

One root, :class:`VagentError`. :class:`ConfigError` is a mistake of the deploying team, raised
when an agent is built; the others happen at run time and carry the conversation id and the data
that explains them, never caller data.
"""

from __future__ import annotations


class VagentError(Exception):
    """Root of every exception vagent raises on purpose."""


class ConfigError(VagentError):
    """The agent's configuration is wrong; raised at build time, never halfway through a turn."""


class KnowledgeError(VagentError):
    """The knowledge store or an article could not be read or written."""


class ModelError(VagentError):
    """The chat model endpoint failed after its retries.

    Attributes:
        model: the configured model name.
        status: the last HTTP status, if the endpoint answered at all.
    """

    def __init__(self, message: str, *, model: str, status: int | None = None) -> None:
        super().__init__(message)
        self.model = model
        self.status = status


class ConversationError(VagentError):
    """A turn could not be taken for this conversation.

    Attributes:
        conversation_id: the conversation the error belongs to.
    """

    def __init__(self, message: str, *, conversation_id: str) -> None:
        super().__init__(message)
        self.conversation_id = conversation_id


class TurnArgumentError(ConversationError, TypeError):
    """A turn was called with an argument of the wrong type, such as bytes for the text.

    A mistake in the channel's code, not the caller's; it is also a ``TypeError``.
    """


class BackendError(VagentError):
    """A case system or messenger failed; the action did not happen."""
