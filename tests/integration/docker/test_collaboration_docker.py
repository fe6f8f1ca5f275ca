"""Collaboration on the docker backend, on a real Docker engine: project spaces mounted
in members' containers only (read-only once the project has ended), and a library
publication reaching running containers at once while people's copies stay untouched."""

from __future__ import annotations

import pytest

from tests.collabhub import ENDED, PROJECT, CollabHub, overrides
from tests.conftest import open_workdir, served
from tests.hubclient import HubClient, KernelError
from tests.services.dockerd import private_network, remove_docker_objects, run_prefix

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def docker_collab_hub(lab_image):
    prefix = run_prefix("c")
    workdir = open_workdir("datalab-docker-collab-")
    spawner = {**overrides(workdir)["spawner"], "backend": "docker"}
    running = CollabHub(workdir, extra={
        "spawner": spawner, "docker": {"name_prefix": prefix, "image": lab_image, **private_network(prefix)},
    })
    try:
        with served(running, "hub-docker-collab.log"):
            yield running
    finally:
        remove_docker_objects(prefix)


@pytest.fixture(scope="module")
def labs(docker_collab_hub):
    started: dict[str, HubClient] = {}
    try:
        for name in ("analyste1", "analyste2", "analyste3"):
            client = docker_collab_hub.client(name)
            r = client.start_server(timeout=150)
            assert r.status_code in (201, 202), r.text
            client.open_lab()
            started[name] = client
        yield started
    finally:
        for client in started.values():
            client.stop_server()


def test_project_members_share_the_space_and_others_do_not_see_it(labs):
    one, two, outsider = labs["analyste1"], labs["analyste2"], labs["analyste3"]
    space = f"projet-{PROJECT}"
    one.execute(f"open('{space}/notes.txt', 'w').write('de analyste1\\n')")
    two.execute(f"open('{space}/notes.txt', 'a').write('de analyste2\\n')")
    assert one.execute(f"print(open('{space}/notes.txt').read(), end='')") == \
        "de analyste1\nde analyste2\n"
    listing = {item["name"] for item in outsider.lab_api("GET", "/contents/").json()["content"]}
    assert space not in listing and "bibliotheque" in listing
    assert outsider.execute("import glob; print(glob.glob('/home/jovyan/projet-*'))").strip() == "[]"
    assert outsider.lab_api("GET", f"/contents/{space}/notes.txt").status_code == 404


def test_an_ended_project_is_read_only_in_the_container(labs):
    one = labs["analyste1"]
    assert one.execute(f"import os; print(os.path.isdir('projet-{ENDED}'))").strip() == "True"
    with pytest.raises(KernelError, match="Read-only file system"):
        one.execute(f"open('projet-{ENDED}/nouveau.txt', 'w').write('x')")
    assert labs["analyste2"].execute(
        f"import os; print(os.path.exists('projet-{ENDED}'))").strip() == "False"


def test_a_library_publication_reaches_running_containers_and_spares_copies(docker_collab_hub, labs):
    one = labs["analyste1"]
    r = one.lab_api("POST", "/contents/", json={"copy_from": "bibliotheque/03-rapport-departement.ipynb"})
    assert r.status_code == 201, r.text
    copy_path = r.json()["path"]
    before = one.execute("import os; print(os.path.realpath('bibliotheque'))").strip()

    commit = docker_collab_hub.publish_new_version()

    for client in labs.values():  # every running container, without a restart
        listing = client.lab_api("GET", "/contents/bibliotheque").json()["content"]
        assert "NOUVEAUTES.md" in {item["name"] for item in listing}
    after = one.execute("import os; print(os.path.realpath('bibliotheque'))").strip()
    assert after == f"/srv/datalab/library/versions/{commit}" and after != before
    assert one.execute("import normandie; print(normandie.__file__)").strip().startswith(
        "/srv/datalab/library/current/")
    assert one.lab_api("GET", f"/contents/{copy_path}").status_code == 200
    with pytest.raises(KernelError, match="Permission denied|Read-only file system"):
        one.execute("open('bibliotheque/NOUVEAUTES.md', 'a').write('x')")
