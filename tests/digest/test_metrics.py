"""The digest's figures on a hand-built history, on SQLite and PostgreSQL (the `db` fixture)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.report.digest import Period, build_report
from bot.stats import wilson
from storage.engine import Database
from tests.digest.dataset import GEMINI, GPT5, NOISE, OFFLINE, SONNET, STUDY, Spec, at, insert_specs

UTC_ZONE = ZoneInfo("UTC")
WEEK = Period(date(2026, 11, 16), date(2026, 11, 23), UTC_ZONE)


async def _study_week(db: Database) -> dict:
    await insert_specs(db, STUDY, decided_at=at(2026, 11, 18, 10))
    await insert_specs(db, NOISE, decided_at=at(2026, 11, 18, 10))
    # the week before: 5 alone, 5 rejected after one round
    await insert_specs(
        db,
        (Spec(5, "data-science", SONNET, "accepted", 1, 0), Spec(5, "data-science", SONNET, "rejected", 2, 1)),
        decided_at=at(2026, 11, 10, 12),
    )
    # decided exactly at `until`: outside the half-open period (but created inside it, so opened)
    await insert_specs(db, (Spec(1, "design", OFFLINE, "accepted", 1, 0),), decided_at=at(2026, 11, 23))
    report = await build_report(db, WEEK, now=at(2026, 11, 23, 9))
    data = json.loads(json.dumps(report.to_json()))  # what `--format json` prints
    return data


def _named(items: list[dict], name: str) -> dict:
    return next(x for x in items if x["name"] == name)


def _rates(entries: list[dict]) -> list[float]:
    return [e["rate"] for e in entries]


async def test_study_pairs_give_the_studys_rates(db: Database) -> None:
    data = await _study_week(db)
    for dimension, name, alone, withf, cycles in (
        ("by_category", "data-science", 0.64, 0.93, [0.64, 0.84, 0.93]),
        ("by_model", SONNET, 0.64, 0.93, [0.64, 0.84, 0.93]),
        ("by_category", "sales-marketing", 0.17, 0.31, [0.17, 0.27, 0.31]),
        ("by_model", GEMINI, 0.17, 0.31, [0.17, 0.27, 0.31]),
        ("by_category", "engineering", 0.30, 0.50, [0.30, 0.50]),
        ("by_model", GPT5, 0.30, 0.50, [0.30, 0.50]),
    ):
        group = _named(data[dimension], name)
        assert group["agent_alone"]["rate"] == alone, (name, group["agent_alone"])
        assert group["with_feedback"]["rate"] == withf, (name, group["with_feedback"])
        assert _rates(group["by_cycle"]) == cycles
        assert [e["cycles"] for e in group["by_cycle"]] == list(range(len(cycles)))
        assert group["agent_alone"]["thin"] is False
    ds = _named(data["by_category"], "data-science")
    assert (ds["decided"], ds["accepted"]) == (100, 93)
    assert (ds["agent_alone"]["k"], ds["agent_alone"]["n"]) == (64, 100)
    assert ds["expert_minutes"] == {"stated": 520, "estimated": 0}
    assert ds["cost_usd"] == pytest.approx(1.52)
    low, high = wilson(64, 100)
    assert (ds["agent_alone"]["ci_low"], ds["agent_alone"]["ci_high"]) == (low, high)


async def test_overall_figures_and_contract_shape(db: Database) -> None:
    data = await _study_week(db)
    assert data["period"] == {"since": "2026-11-16", "until": "2026-11-23", "tz": "UTC"}
    # 214 study projects + 2 cancelled + 3 open + 1 decided at `until`, all created in the week
    assert data["opened"] == 220
    assert (data["decided"], data["accepted"]) == (214, 132)
    assert data["agent_alone"] == {
        "rate": 85 / 214,
        "k": 85,
        "n": 214,
        "ci_low": wilson(85, 214)[0],
        "ci_high": wilson(85, 214)[1],
        "thin": False,
    }
    assert data["with_feedback"]["rate"] == 132 / 214
    # by_cycle[0] counts the writing project accepted at v1 after feedback; agent_alone does not
    assert _rates(data["by_cycle"]) == [86 / 214, 119 / 214, 132 / 214]
    assert data["median_cycles_to_accept"] == 0.0
    assert data["mean_cycles_to_accept"] == pytest.approx((33 * 1 + 13 * 2) / 132)
    assert data["expert_minutes"] == {"stated": 520, "estimated": 450}
    assert data["tokens"] == {"input": 352_000, "output": 70_400, "cached": 0}
    assert data["cost_usd"] == pytest.approx(3.52)
    assert data["per_accepted"]["tokens"] == pytest.approx(1200 * (86 + 33 * 2 + 13 * 3) / 132)
    assert data["expert_minutes_per_project"] == pytest.approx(955 / 214)
    assert data["medians"] == {"first_draft_seconds": pytest.approx(120), "accept_seconds": pytest.approx(5 * 3600)}
    writing = _named(data["by_category"], "writing")
    assert writing["decided"] == 4 and writing["agent_alone"]["thin"] is True
    assert (writing["agent_alone"]["rate"], writing["with_feedback"]["rate"]) == (0.25, 0.75)
    assert _rates(writing["by_cycle"]) == [0.5, 0.75]
    assert {e["name"]: (e["feedback"], e["projects"], e["expert_minutes"]) for e in data["by_expert"]} == {
        "ana": (52, 36, {"stated": 520, "estimated": 0}),
        "ben": (78, 74, {"stated": 0, "estimated": 390}),
        "cy": (7, 7, {"stated": 0, "estimated": 35}),
        "dee": (5, 5, {"stated": 0, "estimated": 25}),
    }
    assert data["waiting_total"] == 3 and len(data["waiting"]) == 3
    # week over week: the week before had 10 decided, 5 alone, 5 accepted, 5 expert-min each
    assert data["previous"]["decided"] == 10
    assert data["change"]["agent_alone_pts"] == pytest.approx((85 / 214 - 0.5) * 100)
    assert data["change"]["with_feedback_pts"] == pytest.approx((132 / 214 - 0.5) * 100)
    assert data["change"]["expert_minutes_per_project"] == pytest.approx(955 / 214 - 5.0)


async def test_empty_period_has_null_rates_and_cycles_0_and_1(db: Database) -> None:
    data = (await build_report(db, WEEK)).to_json()
    assert data["decided"] == 0
    assert data["agent_alone"] == {"rate": None, "k": 0, "n": 0, "ci_low": None, "ci_high": None, "thin": True}
    assert [e["cycles"] for e in data["by_cycle"]] == [0, 1]
    assert data["median_cycles_to_accept"] is None
    assert data["by_category"] == [] and data["by_expert"] == []


async def test_medians_of_an_even_count_on_both_databases(db: Database) -> None:
    for hours in (1, 2, 3, 10):
        await insert_specs(
            db,
            (Spec(1, "writing", OFFLINE, "accepted", 1, 0),),
            decided_at=at(2026, 11, 18, 12),
            accept_after=timedelta(hours=hours),
            first_draft_after=timedelta(minutes=hours),
        )
    data = (await build_report(db, WEEK)).to_json()
    assert data["medians"]["accept_seconds"] == pytest.approx(2.5 * 3600)
    assert data["medians"]["first_draft_seconds"] == pytest.approx(2.5 * 60)


async def test_period_across_the_end_of_daylight_saving(db: Database) -> None:
    """Berlin leaves summer time on 2026-10-25: the week [19 Oct, 26 Oct) local is 169 hours."""
    berlin = ZoneInfo("Europe/Berlin")
    period = Period(date(2026, 10, 19), date(2026, 10, 26), berlin)
    assert period.start == at(2026, 10, 18, 22)  # 00:00 CEST (UTC+2)
    assert period.end == at(2026, 10, 25, 23)  # 00:00 CET (UTC+1)
    assert period.end - period.start == timedelta(hours=169)
    one = (Spec(1, "writing", OFFLINE, "accepted", 1, 0),)
    inside = [at(2026, 10, 18, 22), at(2026, 10, 25, 0, 30), at(2026, 10, 25, 1, 30), at(2026, 10, 25, 22, 59)]
    # 23:59 on the 18th local; 00:00 and 00:30 on the 26th local (a UTC or fixed +2 boundary would take them)
    outside = [at(2026, 10, 18, 21, 59), at(2026, 10, 25, 23), at(2026, 10, 25, 23, 30)]
    for when in inside + outside:
        await insert_specs(db, one, decided_at=when)
    data = (await build_report(db, period)).to_json()
    assert data["decided"] == len(inside)
    assert data["period"] == {"since": "2026-10-19", "until": "2026-10-26", "tz": "Europe/Berlin"}


def test_wilson_interval_known_values() -> None:
    # Textbook values (Wilson 1927; Newcombe 1998, table I) at z = 1.96
    cases = {
        (5, 10): (0.2366, 0.7634),
        (0, 10): (0.0, 0.2775),
        (10, 10): (0.7225, 1.0),
        (81, 263): (0.2553, 0.3662),
        (15, 148): (0.0624, 0.1605),
    }
    for (k, n), (low, high) in cases.items():
        got = wilson(k, n)
        assert got[0] == pytest.approx(low, abs=5e-5) and got[1] == pytest.approx(high, abs=5e-5), (k, n, got)
    assert wilson(0, 0) == (None, None)
