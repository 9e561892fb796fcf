"""Where tools act: case systems and messengers behind small protocols."""

from vagent.backends.base import CallerProfile, Case, CaseSystem, Messenger, SentMessage
from vagent.backends.sqlite import SQLiteBackend

__all__ = ["CallerProfile", "Case", "CaseSystem", "Messenger", "SQLiteBackend", "SentMessage"]
