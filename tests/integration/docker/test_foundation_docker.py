"""The foundation's end-to-end tests (tests/integration/test_foundation.py), unchanged,
on the docker backend: the same hub, login, REST API, profiles, library notebooks and
kernels, with each lab in a container.

Two of its isolation tests describe the local backend's Unix accounts (another partner's
space is on the same file system, closed by its mode); in a container another partner's
space is not mounted at all, which is what the replacement below checks.
"""

from __future__ import annotations

import pytest

from tests.integration.test_foundation import *  # noqa: F401,F403 (the tests themselves)
from tests.integration.test_foundation import HubClient, KernelError, PASSWORD


@pytest.fixture(scope="module")
def hub(docker_hub):
    return docker_hub


def test_analyst_cannot_write_into_another_partners_space(hub, analyste1):
    client = HubClient(hub.url, "analyste2", PASSWORD)
    assert client.start_server().status_code in (201, 202)
    try:
        listing = analyste1.execute("import os; print(sorted(os.listdir('.')))")
        assert "partenaire-chu-exemple-nord" not in listing
        with pytest.raises(KernelError, match="FileNotFoundError"):
            analyste1.execute("open('partenaire-chu-exemple-nord/intrusion.txt', 'w')")
        other = hub.layout.partner_space("chu-exemple-nord")
        with pytest.raises(KernelError, match="FileNotFoundError"):
            analyste1.execute(f"import os; os.listdir({str(other)!r})")
        client.open_lab()
        assert client.execute(
            "open('partenaire-chu-exemple-nord/note.txt', 'w').write('ok'); print('written')"
        ).strip() == "written"
        assert (other / "note.txt").read_text() == "ok"
    finally:
        client.stop_server()
