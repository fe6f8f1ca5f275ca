"""Fire times a test run never meets.

A schedule a test creates only to have one (its runs are asked with "run now") must not
fire by itself while the suite runs: a daily cron at 06:00 fired in the middle of a run
that crossed 06:00 and left a second job beside the one the test followed. Such
schedules use :data:`QUIET_CRON`, a daily time twelve hours after this test run began
(in the reports' default time zone); the whole run lasts far less."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")

_QUIET = datetime.now(PARIS) + timedelta(hours=12)
QUIET_CRON = f"{_QUIET.minute} {_QUIET.hour} * * *"
