"""The contract: the same scenarios over every chat platform and every agent backend.

Chosen combinations (not the full cross product): every platform with the offline agent, and every
backend (offline, OpenAI's and Anthropic's SDKs against the fake LLM server) on Slack, whose streaming
edits and Block Kit drafts are the longest path from a model's deltas to a posted draft. All on SQLite;
the full loop runs on PostgreSQL too, on every platform.
"""

from __future__ import annotations

import pytest

from tests.contract import scenarios
from tests.contract.conftest import BACKENDS, PLATFORMS
from tests.contract.drivers.base import Driver

COMBINATIONS = [f"{p}-offline" for p in PLATFORMS] + [f"slack-{b}" for b in BACKENDS if b != "offline"]
over_all = pytest.mark.parametrize("driver", COMBINATIONS, indirect=True)
sqlite = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@over_all
async def test_request_feedback_aside_accept(driver: Driver) -> None:
    await scenarios.request_feedback_aside_accept(driver)


@over_all
@sqlite
async def test_refused_decision(driver: Driver) -> None:
    await scenarios.refused_decision(driver)


@over_all
@sqlite
async def test_redelivered_event_has_one_effect(driver: Driver) -> None:
    if not driver.redelivers:
        pytest.skip(f"{driver.platform} has no redelivery: each line typed is a new message")
    await scenarios.redelivered_events(driver)


@over_all
@sqlite
async def test_failure_then_retry(driver: Driver) -> None:
    await scenarios.failure_then_retry(driver, driver.backend.fail_once)  # type: ignore[attr-defined]
