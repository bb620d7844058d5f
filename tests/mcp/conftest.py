"""Outside agents' front doors: a Runtime whose default agent counts its calls, so a test sees that no
model wrote for an outside agent's project, and the console (a RecordingChat) as the platform."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from bot.app.runtime import Runtime
from bot.loop.outside import Caller
from bot.ports import DraftRequest, DraftResult
from bot.settings import Settings
from tests.fakes.recording_chat import RecordingChat

EXPERT = "erin"
CONFIG = f"""
[categories.writing]
experts = ["{EXPERT}"]
"""
TOKEN = "t0ken-for-the-outside-doors-1234"
AGENT = Caller.named("Claude Code")


class CountingAgent:
    """The default agent: counts the drafts it is asked for (an outside agent's project must ask none)."""

    name = "offline"
    model = "counting-v1"

    def __init__(self) -> None:
        self.calls: list[DraftRequest] = []

    async def stream(self, request: DraftRequest) -> AsyncIterator[str | DraftResult]:
        self.calls.append(request)
        text = f"Model draft v{request.version} of: {request.brief}"
        yield text
        yield DraftResult(text=text, model=self.model)

    async def aclose(self) -> None:
        return None


@pytest.fixture
def settings(settings_factory: Callable[..., Settings]) -> Settings:
    return settings_factory(CONFIG, draftloop_mcp_token=TOKEN)


@pytest.fixture
def runtime(make_runtime: Callable[..., Runtime], settings: Settings) -> Runtime:
    made = make_runtime(settings)
    made.model = CountingAgent()  # type: ignore[attr-defined]
    made.agents.use("offline", made.model)  # type: ignore[attr-defined]
    return made


def chat(runtime: Runtime) -> RecordingChat:
    found: Any = runtime.chat  # type: ignore[attr-defined]
    return found
