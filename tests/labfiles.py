"""Attacks on a running lab's bulk file channels (hub/lab_confinement.py), shared by the
local and docker integration tests: what a health member's browser tries, what another
member's lab still does."""

from __future__ import annotations

import base64
import contextlib
import json

from tests.conftest import PASSWORD
from tests.hubclient import HubClient

SECRET = b"patient,diagnostic\nDUPONT Jeanne,C50.9\n"
#: A data file larger than the cap on served text (1 MiB), to be renamed ``.txt``.
LARGE = SECRET * (1024 * 1024 // len(SECRET) + 1)
NOTEBOOK = {"cells": [{"cell_type": "code", "execution_count": None, "id": "c1", "metadata": {},
                       "outputs": [], "source": "import pandas as pd"}],
            "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
SOURCE = "import pandas as pd\ndf = pd.read_csv('donnees/patients.csv')\n"


def put(client: HubClient, path: str, model: dict) -> None:
    r = client.lab_api("PUT", f"/contents/{path}", json=model)
    assert r.status_code in (200, 201), r.text


def upload(client: HubClient) -> None:
    """Upload a data file, a large one renamed ``.txt``, a notebook and a script into the
    lab's home: writing into the space is allowed everywhere."""
    put(client, "donnees", {"type": "directory"})
    for name, data in (("patients.csv", SECRET), ("grand.csv", LARGE)):
        put(client, f"donnees/{name}", {"type": "file", "format": "base64",
                                        "content": base64.b64encode(data).decode()})
    renamed = client.lab_api("PATCH", "/contents/donnees/grand.csv", json={"path": "donnees/grand.txt"})
    assert renamed.status_code == 200, renamed.text
    put(client, "analyse.ipynb", {"type": "notebook", "content": NOTEBOOK})
    put(client, "analyse.py", {"type": "file", "format": "text", "content": SOURCE})


def lab_get(client: HubClient, path: str):
    return client.session.get(f"{client.lab_url}{path}", allow_redirects=False)


def assert_refused(response, page: str = "/hub/export") -> None:
    assert response.status_code == 403, (response.status_code, response.text[:300])
    assert b"DUPONT" not in response.content and b"C50.9" not in response.content
    assert page in response.text


def attack(client: HubClient) -> None:
    """Every bulk channel of a health member's lab is refused; notebooks and small
    sources still open."""
    upload(client)
    for path in ("/files/donnees/patients.csv", "/files/donnees/patients.csv?download=1",
                 "/files/analyse.ipynb?download=1", "/files/donnees/grand.txt",
                 "/nbconvert/html/analyse.ipynb?download=true", "/nbconvert/script/analyse.ipynb?download=true",
                 "/nbconvert/notebook/analyse.ipynb?download=true", "/view/donnees/patients.csv"):
        response = lab_get(client, path)
        if path.startswith("/view/"):  # a page framing /files/: the frame is refused
            assert b"DUPONT" not in response.content
            response = lab_get(client, "/files/donnees/patients.csv")
        assert_refused(response)
    for path in ("/donnees/patients.csv", "/donnees/patients.csv?format=text&type=file",
                 "/donnees/patients.csv?format=base64&type=file", "/donnees/patients.csv?type=notebook",
                 "/analyse.py?format=base64&type=file", "/analyse.ipynb?format=base64",
                 "/donnees/grand.txt", "/donnees/grand.txt?format=text&type=file"):
        assert_refused(client.lab_api("GET", f"/contents{path}"), page="/hub/export")
    assert client.lab_api("GET", "/contents/analyse.ipynb").json()["content"]["cells"][0]["source"] == \
        "import pandas as pd"
    assert client.lab_api("GET", "/contents/analyse.py").json()["content"] == SOURCE
    listing = client.lab_api("GET", "/contents/donnees").json()
    assert {m["name"] for m in listing["content"]} == {"patients.csv", "grand.txt"}


def still_downloads(client: HubClient) -> None:
    """Another member's lab is unchanged: downloads, exports and base64 contents work."""
    upload(client)
    download = lab_get(client, "/files/donnees/patients.csv?download=1")
    assert download.status_code == 200 and download.content == SECRET
    exported = lab_get(client, "/nbconvert/script/analyse.ipynb?download=true")
    assert exported.status_code == 200 and b"import pandas as pd" in exported.content
    contents = client.lab_api("GET", "/contents/donnees/grand.txt?format=base64&type=file")
    assert contents.status_code == 200 and base64.b64decode(contents.json()["content"]) == LARGE
    assert json.loads(lab_get(client, "/files/analyse.ipynb").content)["cells"][0]["id"] == "c1"


@contextlib.contextmanager
def labs_of(hub, timeout: float):
    """``start(user) -> HubClient``: the user's lab started on ``hub`` (within
    ``timeout`` seconds) and opened; every lab started is stopped on exit."""
    started = []

    def start(user: str) -> HubClient:
        client = HubClient(hub.url, user, PASSWORD)
        r = client.start_server(timeout=timeout)
        assert r.status_code in (201, 202), r.text
        started.append(client)
        client.open_lab()
        return client

    try:
        yield start
    finally:
        for client in started:
            client.stop_server()
