"""Rendering one report: text, Slack blocks, Discord embed, JSON, and the chart PNG."""

from __future__ import annotations

import json
import struct
import zlib
from datetime import date
from zoneinfo import ZoneInfo

import pytest

from bot.report.chart import CHART_HEIGHT, CHART_WIDTH, chart_png
from bot.report.digest import Period, build_report
from bot.report.lines import headline
from bot.report.render import render_chat, render_discord, render_json, render_slack, render_text
from bot.stats import rate
from storage.engine import Database
from tests.digest.dataset import NOISE, STUDY, at, insert_specs

WEEK = Period(date(2026, 11, 16), date(2026, 11, 23), ZoneInfo("Europe/Berlin"))


@pytest.fixture
async def data(db: Database) -> dict:
    await insert_specs(db, STUDY, decided_at=at(2026, 11, 18, 10))
    await insert_specs(db, NOISE, decided_at=at(2026, 11, 18, 10))
    report = await build_report(db, WEEK, now=at(2026, 11, 23, 9))
    return report.to_json()


def _png_chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, pos = [], 8
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind, body = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", png[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, kind
        chunks.append((kind, body))
        pos += 12 + length
    return chunks


def _group(name: str, n: int, alone: int, by_cycle: list[int]) -> dict:
    return {
        "name": name,
        "decided": n,
        "agent_alone": rate(alone, n),
        "with_feedback": rate(by_cycle[-1], n),
        "by_cycle": [{"cycles": c, **rate(k, n)} for c, k in enumerate(by_cycle)],
    }


CHART_DATA = {
    "period": {"since": "2026-11-16", "until": "2026-11-23", "tz": "Europe/Berlin"},
    "decided": 210,
    "agent_alone": rate(84, 210),
    "with_feedback": rate(129, 210),
    "by_cycle": [{"cycles": c, **rate(k, 210)} for c, k in enumerate([84, 116, 129])],
    "by_category": [_group("data-science", 100, 64, [64, 84, 93]), _group("engineering", 10, 3, [3, 5])],
    "by_model": [_group("claude-sonnet-4", 100, 64, [64, 84, 93]), _group("gpt-5", 4, 1, [1, 2])],
}


@pytest.mark.parametrize("by", ["category", "model"])
def test_chart_is_a_valid_png_of_the_expected_size(by: str) -> None:
    png = chart_png(CHART_DATA, by=by)
    chunks = _png_chunks(png)
    assert chunks[0][0] == b"IHDR" and chunks[-1][0] == b"IEND"
    width, height = struct.unpack(">II", chunks[0][1][:8])
    assert (width, height) == (CHART_WIDTH, CHART_HEIGHT) == (1200, 600)
    idat = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    assert len(set(idat)) > 10  # something was drawn, not a blank canvas


def test_chart_at_another_size_written_by_the_cli_path(tmp_path) -> None:
    out = tmp_path / "digest.png"
    out.write_bytes(chart_png(CHART_DATA, width=600, height=300))
    assert struct.unpack(">II", _png_chunks(out.read_bytes())[0][1][:8]) == (600, 300)


def test_chart_of_an_empty_period() -> None:
    empty = {"period": {"since": "a", "until": "b", "tz": "UTC"}, "decided": 0, "by_cycle": [], "by_category": []}
    assert _png_chunks(chart_png(empty))[0][0] == b"IHDR"


async def test_text_reads_headline_first_then_tables_experts_waiting(data: dict) -> None:
    text = render_text(data)
    lines = text.splitlines()
    assert lines[0] == "draftloop digest 2026-11-16 → 2026-11-22 (Europe/Berlin)"
    assert lines[1] == headline(data)
    assert lines[1].startswith("Agents finished 40% alone; with expert feedback 62% (+22 pts), 0.4 cycles, ")
    assert lines[1].endswith(" expert-min per project")
    order = [lines.index(h) for h in ("By category", "By model", "Experts", "Waiting for review")]
    assert order == sorted(order)
    assert "data-science" in text and "93%" in text and "64%" in text
    assert "  ben: 78 feedback points on 74 projects, 0 min stated + 390 min estimated" in lines
    assert "25%*" in text  # the thin writing group is marked
    assert len(lines) < 45  # readable in a minute


async def test_chat_text_is_markdown_in_the_same_order(data: dict) -> None:
    text = render_chat(data)
    lines = text.splitlines()
    assert lines[0] == "**draftloop digest 2026-11-16 → 2026-11-22 (Europe/Berlin)**"
    assert lines[1] == headline(data)
    order = [text.index(h) for h in ("**By category**", "**By model**", "**Experts**", "**Waiting for review**")]
    assert order == sorted(order)
    assert text.count("```") == 4  # each table in a code block
    assert "- ben: 78 feedback points on 74 projects" in text
    assert lines[-1].startswith("_* fewer than 5") and lines[-1].endswith("_")


async def test_slack_blocks_and_discord_embed_are_plain_dicts_within_limits(data: dict) -> None:
    blocks = render_slack(data)
    json.dumps(blocks)
    assert blocks[0]["type"] == "header" and len(blocks[0]["text"]["text"]) <= 150
    assert blocks[1]["text"]["text"] == f"*{headline(data)}*"
    assert all(len(b["text"]["text"]) <= 3000 for b in blocks if b["type"] == "section")
    assert len(blocks) <= 50
    embed = render_discord(data, image="attachment://digest.png")
    json.dumps(embed)
    assert embed["image"] == {"url": "attachment://digest.png"}
    assert len(embed["title"]) <= 256 and len(embed["description"]) <= 4096
    assert len(embed["fields"]) <= 25 and all(len(f["value"]) <= 1024 for f in embed["fields"])
    total = (
        len(embed["title"]) + len(embed["description"]) + sum(len(f["name"]) + len(f["value"]) for f in embed["fields"])
    )
    assert total <= 6000


async def test_json_rendering_is_the_contract_object(data: dict) -> None:
    parsed = json.loads(render_json(data))
    assert parsed == json.loads(json.dumps(data))
    for key in ("period", "opened", "decided", "accepted", "agent_alone", "with_feedback", "by_cycle"):
        assert key in parsed
    for key in ("median_cycles_to_accept", "expert_minutes", "tokens", "cost_usd", "by_category", "by_model"):
        assert key in parsed
    assert set(parsed["by_expert"][0]) == {"name", "feedback", "projects", "expert_minutes"}
