"""Helpers of the Slurm integration tests: the spawn progress stream."""

from __future__ import annotations

import json
import time

from tests.hubclient import HubClient


def progress_events(client: HubClient, until, timeout: float = 90) -> list[dict]:
    """Read the spawn progress stream until ``until(event)`` is true, the stream ends, or
    ``timeout`` seconds pass; returns the events read."""
    events = []
    deadline = time.monotonic() + timeout
    with client.api("GET", f"/users/{client.username}/server/progress", stream=True, timeout=timeout) as r:
        r.raise_for_status()
        for line in r.iter_lines(decode_unicode=True):
            if line and line.startswith("data:"):
                event = json.loads(line[len("data:"):])
                events.append(event)
                if until(event):
                    break
            if time.monotonic() > deadline:
                break
    return events


def wait_gone(client: HubClient, timeout: float = 90) -> None:
    """Wait until the user's default server is no longer in their model."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if "" not in client.api("GET", f"/users/{client.username}").json().get("servers", {}):
            return
        time.sleep(0.5)
    raise TimeoutError(f"{client.username}'s server still listed after {timeout} s")
