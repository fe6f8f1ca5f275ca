"""A lab on the test Slurm cluster shows in the hub's metrics: its queue time, its start
and the running count, labelled slurm."""

from __future__ import annotations

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from hub.metrics import TOKEN_FILE
from tests.conftest import PASSWORD
from tests.hubclient import HubClient

pytestmark = pytest.mark.integration

AUSTRAL = {"profile": "austral", "partition": "debug", "cores": "1", "memory": "1G", "walltime": "0:20"}


def test_slurm_queue_time_and_start_are_in_the_hub_metrics(slurm_hub, slurm_cluster, austral_logins):
    client = HubClient(slurm_hub.url, "analyste1", PASSWORD)
    r = client.start_server(AUSTRAL, timeout=60)
    assert r.status_code in (201, 202), r.text
    try:
        token = (slurm_hub.layout.hub / TOKEN_FILE).read_text().strip()
        scraped = requests.get(f"{slurm_hub.url}/hub/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert scraped.status_code == 200
        families = {f.name: f.samples for f in text_string_to_metric_families(scraped.text)}
        pending = [s for s in families["datalab_slurm_pending_seconds"]
                   if s.name.endswith("_count") and s.labels == {"partition": "debug"}]
        assert pending and pending[0].value >= 1
        spawns = [s for s in families["datalab_spawn_duration_seconds"]
                  if s.name.endswith("_count") and s.labels == {"backend": "slurm", "profile": "austral"}]
        assert spawns and spawns[0].value >= 1
        running = {(s.labels["backend"], s.labels["partner"]): s.value for s in families["datalab_running_servers"]}
        assert running.get(("slurm", "univ-alpha")) == 1
    finally:
        client.stop_server()
