"""The exception tree of draftloop.

DraftloopError                 root; never shown raw to a chat user
├── UserFacingError            carries `user_message`, safe to post in a thread
│   ├── InvalidRequest         empty, unusable or oversized input
│   ├── NotAllowed             the actor may not do this (decisions, retries)
│   ├── UnknownProject         a thread or number that names no project
│   └── InvalidTransition      the project's state does not allow the step
├── AgentError                 a model backend failed; `agent` names it, message is one line, no secret
│   ├── AgentUnavailable       time-out, connection error, 5xx, overloaded: worth retrying
│   ├── AgentRateLimited       429; `retry_after` seconds when the provider said so
│   └── AgentRejected          4xx other than 429, refusal, empty answer: retrying the same call will not help
├── PlatformError              a chat platform call failed after its own retries
├── ConfigError                settings or the TOML file are wrong; operators see it at start-up
└── StorageError               the database is unreachable or not migrated
"""

from __future__ import annotations


class DraftloopError(Exception):
    """Root of every error draftloop raises on purpose."""


class UserFacingError(DraftloopError):
    """An error whose message is written for the person in the chat."""

    def __init__(self, user_message: str) -> None:
        super().__init__(user_message)
        self.user_message = user_message


class InvalidRequest(UserFacingError):
    pass


class NotAllowed(UserFacingError):
    pass


class UnknownProject(UserFacingError):
    pass


class InvalidTransition(UserFacingError):
    def __init__(self, user_message: str, *, current: str = "", target: str = "") -> None:
        super().__init__(user_message)
        self.current = current
        self.target = target


class AgentError(DraftloopError):
    """A backend failed. `str(err)` is one line naming the agent and the cause, never a key."""

    retryable = False

    def __init__(self, message: str, *, agent: str = "", retry_after: float | None = None) -> None:
        super().__init__(message)
        self.agent = agent
        self.retry_after = retry_after


class AgentUnavailable(AgentError):
    retryable = True


class AgentRateLimited(AgentError):
    retryable = True


class AgentRejected(AgentError):
    retryable = False


class PlatformError(DraftloopError):
    pass


class ConfigError(DraftloopError):
    pass


class StorageError(DraftloopError):
    pass
