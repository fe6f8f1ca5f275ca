"""A hub for the airlock's tests (registered in tests/conftest.py's pytest_plugins),
shared by the REST API test and the browser test: the example deployment with two more
members of chu-exemple-nord, ``referente2`` (its data steward) and ``infirmier2`` (a
member who is not), no reports or dashboards service (not needed, quicker to start).
Started once per run, only when a test asks for it."""

from __future__ import annotations

import copy

import pytest
import yaml

from hub.backends.local.policy import prepare_partner_space
from tests.conftest import PASSWORD, REPO, RunningHub, open_workdir, served
from tests.hubclient import HubClient

CHU = "chu-exemple-nord"
STEWARD = "referente2"


def overrides() -> dict:
    example = yaml.safe_load((REPO / "datalab.example.yaml").read_text(encoding="utf-8"))
    auth = copy.deepcopy(example["auth"])
    auth["demo_users"] += [
        {"name": STEWARD, "partner": CHU, "role": "analyst"},
        {"name": "infirmier2", "partner": CHU, "role": "analyst"},
    ]
    partners = copy.deepcopy(example["partners"])
    for partner in partners:
        if partner["id"] == CHU:
            partner["data_stewards"] = [STEWARD]
    return {"auth": auth, "partners": partners, "reports": {"enabled": False}, "dashboards": {"enabled": False}}


class AirlockHub(RunningHub):
    def client(self, username: str) -> HubClient:
        return HubClient(self.url, username, PASSWORD)

    def partner_file(self, relative: str, content: bytes) -> None:
        """Write a file in the CHU's shared space, as a lab would."""
        space = prepare_partner_space(self.layout, CHU)
        path = space / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


@pytest.fixture(scope="session")
def airlock_hub():
    with served(AirlockHub(open_workdir("datalab-airlock-"), overrides()), "airlock-hub.log") as running:
        yield running
