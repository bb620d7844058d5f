"""Digest periods: whole local days, and the period a scheduled run reports.

A period is whole local days `[since, until)` in the configured zone (UTC when none), turned into
UTC instants at local midnight, so a week across a daylight-saving change is 167 or 169 hours
long, as the calendar says.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:  # only the scheduler passes one; a one-shot digest need not import APScheduler
    from apscheduler.triggers.cron import CronTrigger


@dataclass(frozen=True)
class Period:
    since: date
    until: date
    tz: ZoneInfo
    # The moment a period "up to now" was cut at (`last_days`): the digest measures how long projects
    # have waited up to it, not up to the period's end. Not part of the period's identity.
    as_of: datetime | None = field(default=None, compare=False)

    @property
    def start(self) -> datetime:
        return datetime.combine(self.since, time(0), tzinfo=self.tz).astimezone(UTC)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.until, time(0), tzinfo=self.tz).astimezone(UTC)

    @property
    def days(self) -> int:
        return (self.until - self.since).days

    def previous(self) -> Period:
        """The period of the same number of days just before this one (week over week)."""
        return Period(self.since - timedelta(days=self.days), self.since, self.tz)

    @property
    def last_day(self) -> date:
        """The last day the period includes (`until` is the first day it does not)."""
        return self.until - timedelta(days=1)

    @classmethod
    def last_days(cls, days: int, *, now: datetime, tz: ZoneInfo) -> Period:
        """The `days` whole local days up to and including today."""
        today = now.astimezone(tz).date()
        return cls(today - timedelta(days=days - 1), today + timedelta(days=1), tz, as_of=now)

    def measured_at(self, now: datetime | None = None) -> datetime:
        """The moment ages in this period's digest are measured to: `now` (else the moment the
        period was cut at), but no later than the period's end: a period in the past reports how long
        projects had waited when it ended. Without either, the end."""
        moment = now if now is not None else self.as_of
        return self.end if moment is None or moment > self.end else moment

    @classmethod
    def ending(cls, until: date, *, days: int, tz: ZoneInfo) -> Period:
        """The `days` whole local days before `until` (a scheduled digest: the week before the run)."""
        return cls(until - timedelta(days=days), until, tz)


def last_fires(
    trigger: CronTrigger, now: datetime, *, lookback_days: int = 62
) -> tuple[datetime | None, datetime | None]:
    """The two most recent fire times at or before `now`: (previous, latest)."""
    previous: datetime | None = None
    latest: datetime | None = None
    cursor = now - timedelta(days=lookback_days)
    fire = trigger.get_next_fire_time(None, cursor)
    while fire is not None and fire <= now:
        previous, latest = latest, fire
        fire = trigger.get_next_fire_time(fire, fire + timedelta(microseconds=1))
    return previous, latest


def period_for_fire(fire: datetime, previous: datetime | None, tz: ZoneInfo) -> Period:
    """A run at `fire` reports the whole local days since the previous run: [previous day, fire day).

    A weekly Monday 09:00 digest covers Monday to Sunday of the week before; without an earlier fire
    in the look-back window the period is the 7 days before the run.
    """
    until = fire.astimezone(tz).date()
    since = previous.astimezone(tz).date() if previous is not None else until - timedelta(days=7)
    if since >= until:  # more than one run a day: the day before
        since = until - timedelta(days=1)
    return Period(since, until, tz)
