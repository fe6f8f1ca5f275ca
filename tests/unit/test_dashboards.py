"""Dashboards without a hub: the deployment file section, the snapshot store, the CLI's
audience syntax, the service's publishing rules and the Voilà options per dashboard."""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import re
from pathlib import Path

import pytest

from hub.cli import parse_audience
from hub.names import own_id
from hub.services.dashboards.runners import Launch, unused_extensions, voila_arguments
from hub.messages import CATALOGUE
from hub.services.dashboards.handlers import LIVE_ASKS, PageTexts, live_asks, route, voila_texts
from hub.services.dashboards.service import Busy, DashboardService, Slot
from hub.services.dashboards.store import METADATA, PublishError, PublishForbidden, Store, read_published, slug_from_title
from hub.settings import Audience, ConfigError, load, parse

REPO = Path(__file__).resolve().parents[2]
KERNEL_ID = "0f1e2d3c-4b5a-6978-8a9b-acbdcedf0123"


def _png() -> str:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (4, 3), "orange").save(out, "PNG")
    return base64.b64encode(out.getvalue()).decode()


PNG = _png()  # a real one: the store keeps only pictures that decode


def notebook(*cells) -> dict:
    return {"cells": list(cells), "metadata": {"kernelspec": {"name": "other", "display_name": "x"}},
            "nbformat": 4, "nbformat_minor": 5}


def code(source: str, outputs=()) -> dict:
    return {"cell_type": "code", "metadata": {}, "execution_count": 3, "outputs": list(outputs),
            "source": source}


def example() -> dict:
    import yaml

    return yaml.safe_load((REPO / "datalab.example.yaml").read_text(encoding="utf-8"))


def test_example_publishes_the_map_for_every_member():
    settings = load(REPO / "datalab.example.yaml")
    seed, usage = settings.dashboards.publish
    assert seed.notebook == Path("shared_notebooks/02-carte-normandie.ipynb")
    assert seed.audience.all and seed.identity_free
    assert usage.notebook == Path("shared_notebooks/05-usage-partenaires.ipynb")
    assert usage.audience.roles == ["admin"] and not usage.audience.all and not usage.identity_free
    assert settings.dashboards.max_kernels_per_dashboard <= settings.dashboards.max_kernels_total


@pytest.mark.parametrize("change, message", [
    ({"max_kernels_total": 0}, "dashboards.max_kernels_total"),
    ({"surprise": 1}, "dashboards.surprise: unknown key"),
    ({"max_kernels_per_person": 0}, "dashboards.max_kernels_per_person"),
    ({"view_timeout": "long"}, "dashboards.view_timeout"),
    ({"preheat_kernels": 10}, "dashboards.preheat_kernels: 10 pre-executed kernels count in"),
    ({"publish": [{"id": "x-y", "notebook": "a.ipynb", "author": "a", "title": "t",
                   "audience": {"partners": ["nope"]}}]},
     "dashboards.publish[0].audience.partners[0]: unknown partner 'nope'"),
    ({"publish": [{"id": "x-y", "notebook": "a.ipynb", "author": "a", "title": "t", "audience": {}}]},
     "dashboards.publish[0].audience: an audience needs all: true, partners or roles"),
])
def test_dashboards_section_errors_name_the_key(change, message):
    data = example()
    data["dashboards"] = {**data["dashboards"], **change}
    with pytest.raises(ConfigError) as error:
        parse(data, REPO)
    assert message in str(error.value)


def test_snapshot_clears_outputs_keeps_a_preview_and_versions(tmp_path):
    store = Store(tmp_path)
    nb = notebook(
        {"cell_type": "markdown", "metadata": {}, "source": "# Titre\n\nUne **carte** des cas."},
        code("plot()", [{"output_type": "display_data", "metadata": {}, "data": {"image/png": PNG}}]),
        code("print(1)", [{"output_type": "stream", "name": "stdout", "text": "PERIMEE"}]),
    )
    fields = dict(id="carte", title="Carte", author="analyste1", partner="univ-alpha",
                  audience={"all": True}, profile="standard")
    first = store.publish(nb, by="analyste1", **fields)
    assert first.version == 1 and first.excerpt == "Une carte des cas."
    saved = json.loads(store.notebook_path(first).read_text())
    assert all(c.get("outputs", []) == [] for c in saved["cells"])
    assert saved["metadata"]["kernelspec"]["name"] == "python3"
    assert store.preview(first)[0].read_bytes().startswith(b"\x89PNG")
    assert store.is_current("carte", nb)
    second = store.publish(notebook(code("print(2)")), by="analyste1", **fields)
    assert second.version == 2 and [v.number for v in second.versions] == [1, 2]
    assert store.preview(second) is None
    assert Store(tmp_path).get("carte").version == 2  # kept on disk
    store.unpublish("carte")
    assert store.get("carte") is None and store.published() == []
    assert store.owner("carte") == "analyste1"


@pytest.mark.parametrize("bad", [{"nbformat": 3, "cells": []}, {"nbformat": 4, "cells": "x"}])
def test_invalid_notebooks_are_refused(tmp_path, bad):
    with pytest.raises(PublishError):
        Store(tmp_path).publish(bad, by="a", id="x-y", title="t", author="a", partner="univ-alpha",
                                audience={"all": True}, profile="standard")


def test_slug_from_title():
    assert slug_from_title("Carte : la COVID-19 en Normandie") == "carte-la-covid-19-en-normandie"
    with pytest.raises(PublishError):
        slug_from_title("!!")


def test_cli_audience_syntax():
    assert parse_audience("all") == {"all": True}
    assert parse_audience("partner:a-b, role:decision-maker") == {
        "partners": ["a-b"], "roles": ["decision-maker"]}
    with pytest.raises(argparse.ArgumentTypeError):
        parse_audience("groupe:x")


def service(tmp_path) -> DashboardService:
    return DashboardService(load(REPO / "datalab.example.yaml"), Store(tmp_path), None, None,
                            "/services/dashboards/")


def test_publish_rules(tmp_path):
    svc = service(tmp_path)
    alice = {"name": "analyste1", "groups": ["partner-univ-alpha", "role-analyst"]}
    bob = {"name": "analyste2", "groups": ["partner-chu-exemple-nord", "role-analyst"]}
    d, created = svc.publish(alice, notebook(code("1")), {"title": "Ma carte", "profile": "calcul",
                                                          "audience": {"all": True}})
    assert created and d.id == "ma-carte" and d.partner == "univ-alpha" and d.profile == "calcul"
    theirs, created = svc.publish(bob, notebook(code("1")), {"title": "Ma carte"})
    assert created and theirs.id.startswith("ma-carte-") and theirs.author == "analyste2"
    assert svc.store.get("ma-carte").author == "analyste1" and svc.store.get("ma-carte").version == 1
    with pytest.raises(PermissionError):  # the calcul profile is not open to this hospital
        svc.publish(bob, notebook(code("1")), {"title": "Autre", "profile": "calcul"})
    with pytest.raises(PermissionError):
        svc.publish(bob, notebook(code("1")), {"title": "Autre", "partner": "univ-alpha"})
    with pytest.raises(PublishError):
        svc.publish(bob, notebook(code("1")), {"title": "Autre", "audience": {"partners": ["inconnu"]}})
    with pytest.raises(PublishError):
        svc.publish(bob, notebook(code("1")), {"title": "Autre", "colour": "red"})
    private, _ = svc.publish(bob, notebook(code("1")), {"title": "Interne", "audience": {"partners": ["chu-exemple-nord"]}})
    decideur = {"name": "decideur1", "groups": ["partner-region-exemple", "role-decision-maker"]}
    assert [x.id for x in svc.visible(decideur)] == ["ma-carte"]
    assert not svc.may_view(decideur, private) and svc.may_view(bob, private)
    admin = {"name": "coordinateur", "groups": ["partner-region-exemple", "role-admin"]}
    assert svc.may_view(admin, private) and svc.may_manage(admin, private)


def test_the_hub_reads_a_published_dashboard_and_nothing_beside_it(tmp_path):
    """Attack: the hub's dashboard page (hub.dashboard_page) reads the service's records
    by the id in its URL; an id that climbs out, names a file, or an unpublished
    dashboard reads as none. A record under the former audience rule reads as the
    service rewrites it, and is left as it is."""
    svc = service(tmp_path)
    alice = {"name": "analyste1", "groups": ["partner-univ-alpha", "role-analyst"]}
    d, _ = svc.publish(alice, notebook(code("1")), {"title": "Ma carte", "audience": {"all": True}})
    root = svc.store.root
    assert read_published(root, "ma-carte") == svc.store.get("ma-carte")
    (tmp_path / "secret").mkdir()
    (tmp_path / "secret" / METADATA).write_text((root / "ma-carte" / METADATA).read_text())
    for probe in ("../secret", "..", "ma-carte/..", "Ma-carte", "ma-carte/", "/etc", "x" * 41, ""):
        assert read_published(root, probe) is None, probe
    stored = json.loads((root / "ma-carte" / METADATA).read_text())
    stored["audience"] = {"partners": ["univ-alpha"], "roles": ["decision-maker"]}  # the former rule: OR
    (root / "ma-carte" / METADATA).write_text(json.dumps(stored))
    former = read_published(root, "ma-carte")
    decideur = {"name": "decideur1", "groups": ["partner-region-exemple", "role-decision-maker"]}
    assert svc.may_view(decideur, former)  # admitted as before the rewrite
    assert json.loads((root / "ma-carte" / METADATA).read_text())["audience"] == stored["audience"]
    svc.store.unpublish("ma-carte")
    assert read_published(root, "ma-carte") is None
    (root / "ma-carte" / METADATA).write_text("{not json")
    assert read_published(root, "ma-carte") is None


@pytest.mark.parametrize("query, asks", [
    ({}, 0), ({"datalab-live": [b"1"]}, 1), ({"datalab-live": [b"7"]}, 7),
    ({"datalab-live": [b"99999"]}, 1), ({"datalab-live": [b"-3"]}, 1), ({"datalab-live": [b"x"]}, 1),
    ({"datalab-live": [b"900"]}, LIVE_ASKS),
])
def test_a_live_pages_count_of_asks_is_read_within_its_bounds(query, asks):
    assert live_asks(argparse.Namespace(query_arguments=query)) == asks


def test_an_id_held_by_someone_else_gives_an_id_of_ones_own_whether_or_not_one_sees_it(tmp_path):
    """Attack: bob probes ids; a hidden dashboard's id and a visible one's are answered
    alike (an id of his own, the same at each publish), never a refusal naming them."""
    svc = service(tmp_path)
    alice = {"name": "analyste1", "groups": ["partner-univ-alpha", "role-analyst"]}
    bob = {"name": "analyste2", "groups": ["partner-chu-exemple-nord", "role-analyst"]}
    svc.publish(alice, notebook(code("1")), {"id": "cachee", "title": "Cachée"})        # univ-alpha only
    svc.publish(alice, notebook(code("1")), {"id": "visible", "title": "Visible", "audience": {"all": True}})
    assert not svc.may_view(bob, svc.store.get("cachee")) and svc.may_view(bob, svc.store.get("visible"))
    for taken in ("cachee", "visible"):
        first, created = svc.publish(bob, notebook(code("1")), {"id": taken, "title": "À moi"})
        again, created_again = svc.publish(bob, notebook(code("2")), {"id": taken, "title": "À moi"})
        assert created and not created_again and first.id == again.id != taken
        assert re.fullmatch(rf"{taken}-[0-9a-f]{{6}}", first.id) and again.version == 2
        assert svc.store.get(taken).author == "analyste1" and svc.store.get(taken).version == 1
    # an id of bob's own squatted beforehand by alice: bob gets the next one, never hers
    squatted = own_id("carte-sante", "analyste2", 40)
    svc.publish(alice, notebook(code("1")), {"id": "carte-sante", "title": "Carte"})
    svc.publish(alice, notebook(code("1")), {"id": squatted, "title": "Squat"})
    mine, _ = svc.publish(bob, notebook(code("1")), {"id": "carte-sante", "title": "Carte"})
    assert mine.id not in ("carte-sante", squatted) and svc.store.get(squatted).author == "analyste1"


def test_voila_options_follow_the_settings(tmp_path):
    svc = service(tmp_path)
    alice = {"name": "analyste1", "groups": ["partner-univ-alpha", "role-analyst"]}
    d, _ = svc.publish(alice, notebook(code("1")), {"title": "Ma carte", "identity_free": True})
    launch = Launch(dashboard=d, notebook=svc.store.notebook_path(d), prefix="/p/d/ma-carte/",
                    author_partners={"univ-alpha"}, profile=svc.settings.profiles[0])
    args = voila_arguments(svc.settings, launch)
    assert "--Voila.base_url=/p/d/ma-carte/" in args
    assert "--MappingKernelManager.cull_idle_timeout=900" in args
    assert not any("preheat" in a for a in args)  # preheat_kernels: 0 in the example
    preheating = svc.settings.model_copy(update={"dashboards": svc.settings.dashboards.model_copy(
        update={"preheat_kernels": 2})})
    assert "--VoilaConfiguration.default_pool_size=2" in voila_arguments(preheating, launch)


def test_a_page_loads_plotlys_extension_only_when_the_kernel_imports_plotly(tmp_path):
    def denied(*sources: str, learned: list[str] | None) -> list[str]:
        path = tmp_path / f"v{len(list(tmp_path.iterdir()))}" / "notebook.ipynb"
        path.parent.mkdir()
        path.write_text(json.dumps(notebook(*(code(source) for source in sources))))
        if learned is not None:
            (path.parent / "kernel-modules.json").write_text(json.dumps(learned))
        return unused_extensions(path)

    collaboration = "@jupyter/docprovider-extension"
    assert denied("import matplotlib.pyplot as plt", learned=["matplotlib.pyplot", "pandas"]) == [
        collaboration, "jupyterlab-plotly"]
    assert denied("def draw():\n    import plotly.express as px", learned=["pandas"]) == [collaboration]
    # imported by a library, not by a cell (pandas' plotting backend set to plotly)
    assert denied("import pandas", learned=["pandas", "plotly.io"]) == [collaboration]
    # not executed at publish: what its kernels import is unknown, every extension stays
    assert denied("import pandas", learned=None) == [collaboration]


def test_a_dashboard_container_gets_the_voila_app_the_kernelspec_and_the_snapshot(tmp_path):
    import io
    import json as json_
    import tarfile

    from hub.backends.docker.policy import LAB_PYTHON
    from hub.backends.docker.dashboard import CONTAINER_DIR, container_files

    snapshot = tmp_path / "notebook.ipynb"
    snapshot.write_text('{"cells": []}', encoding="utf-8")
    with tarfile.open(fileobj=io.BytesIO(container_files(snapshot))) as tar:
        members = {m.name: m for m in tar.getmembers()}
        root = CONTAINER_DIR.lstrip("/")
        assert {f"{root}/voila_app.py", f"{root}/kernel_startup.py", f"{root}/notebook/notebook.ipynb",
                f"{root}/kernels/python3/kernel.json"} <= set(members)
        assert all(m.uid == 0 and m.mode in (0o644, 0o755) for m in members.values())
        spec = json_.load(tar.extractfile(f"{root}/kernels/python3/kernel.json"))
        assert spec["argv"][0] == LAB_PYTHON
        assert f"--IPKernelApp.exec_files={CONTAINER_DIR}/kernel_startup.py" in spec["argv"]
        assert tar.extractfile(f"{root}/notebook/notebook.ipynb").read() == b'{"cells": []}'


def test_the_authors_notebooks_are_listed_without_hidden_ones_and_read_only_under_their_home(tmp_path):
    from hub.services.dashboards import notebook_files

    (tmp_path / "etudes" / ".ipynb_checkpoints").mkdir(parents=True)
    (tmp_path / "etudes" / "carte.ipynb").write_text("{}", encoding="utf-8")
    (tmp_path / "etudes" / ".ipynb_checkpoints" / "carte-checkpoint.ipynb").write_text("{}", encoding="utf-8")
    (tmp_path / ".cache").mkdir()
    (tmp_path / ".cache" / "x.ipynb").write_text("{}", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("", encoding="utf-8")
    assert notebook_files.notebooks(str(tmp_path)) == ["etudes/carte.ipynb"]
    assert notebook_files.read(str(tmp_path), "etudes/carte.ipynb") == b"{}"
    for path in ("../etc/passwd.ipynb", "/etc/x.ipynb", "notes.txt", "etudes/../../x.ipynb"):
        with pytest.raises(ValueError):
            notebook_files.read(str(tmp_path), path)


@pytest.mark.parametrize("method, rest, kind", [
    ("GET", "", "page"),
    ("GET", "voila/static/voila.js", "asset"),
    ("GET", "voila/templates/lab/static/index.css", "asset"),
    ("GET", "voila/labextensions/@jupyter-widgets/jupyterlab-manager/static/remoteEntry.js", "asset"),
    ("GET", f"api/kernels/{KERNEL_ID}", "kernel"),
    ("POST", f"voila/api/shutdown/{KERNEL_ID}", "kernel"),
    ("GET", "datalab/kernels", "refused"),
    ("GET", "api/kernels", "refused"),
    ("GET", "api/kernels/", "refused"),
    ("GET", "api/sessions", "refused"),
    ("DELETE", f"api/kernels/{KERNEL_ID}", "refused"),
    ("POST", f"api/kernels/{KERNEL_ID}/restart", "refused"),
    ("POST", f"api/kernels/{KERNEL_ID}/interrupt", "refused"),
    ("GET", "voila/static/../../datalab/kernels", "refused"),
    ("GET", f"voila/query/{KERNEL_ID}", "refused"),
    ("POST", "", "refused"),
    ("PUT", "voila/static/voila.js", "refused"),
])
def test_only_what_voilas_page_needs_is_forwarded(method, rest, kind):
    assert route(method, rest) == (kind, KERNEL_ID if kind == "kernel" else "")


def test_concurrent_admissions_never_exceed_a_cap_and_the_pool_counts(tmp_path):
    svc = service(tmp_path)
    svc.conf = svc.conf.model_copy(update={"max_kernels_per_dashboard": 4, "max_kernels_total": 6,
                                           "max_kernels_per_person": 3, "preheat_kernels": 1})
    alice = {"name": "analyste1", "groups": ["partner-univ-alpha", "role-analyst"]}
    mapped, _ = svc.publish(alice, notebook(code("1")), {"title": "Carte", "identity_free": True})
    plain, _ = svc.publish(alice, notebook(code("1")), {"title": "Tableau"})

    async def request(i: int):
        await asyncio.sleep(0)
        try:
            return svc.admit(mapped if i % 2 else plain, f"viewer{i % 4}", "session")
        except Busy as busy:
            return busy

    async def rush():
        return await asyncio.gather(*(request(i) for i in range(100)))

    results = asyncio.run(rush())
    admitted = [r for r in results if isinstance(r, Slot)]
    assert len(admitted) == 6 - 1  # the map's pre-executed kernel holds one place
    assert sum(1 for s in admitted if s.dashboard == mapped.id) <= 4 - 1
    assert all(sum(1 for s in admitted if s.user == u) <= 3 for u in {s.user for s in admitted})
    assert svc.slots == set(admitted)


def test_a_reload_replaces_the_view_whose_websocket_closed_in_the_same_session(tmp_path):
    """With a per-person cap of 2, a person reloading a dashboard again and again is
    never refused: the view whose websocket just closed (kept for a reconnection) is
    replaced by the new one of the same browser session; another session's view, or an
    open one, is not."""
    svc = service(tmp_path)
    svc.conf = svc.conf.model_copy(update={"max_kernels_per_person": 2})
    alice = {"name": "analyste1", "groups": ["partner-univ-alpha", "role-analyst"]}
    board, _ = svc.publish(alice, notebook(code("1")), {"title": "Tableau"})
    released = []

    async def release(slot):
        released.append(slot)

    svc.release = release

    async def reloads():
        other = svc.admit(board, "decideur1", "autre-onglet")
        svc.grant(other, "k-other")
        svc.view_opened(other)
        previous = None
        for n in range(5):
            view = svc.admit(board, "decideur1", "session")
            svc.grant(view, f"k{n}")
            svc.view_opened(view)
            await asyncio.sleep(0)  # the replaced view's kernel shutdown runs
            if previous is not None:
                assert released[-1] is previous and previous not in svc.slots
            view.sockets = 0  # the page is reloaded: its websocket closes
            previous = view
        return other

    other = asyncio.run(reloads())
    assert other in svc.slots and other not in released
    assert len(released) == 4


def test_a_refused_publication_says_why_in_the_persons_language(tmp_path):
    with pytest.raises(PublishError) as refused:
        Store(tmp_path).publish({"nbformat": 3}, by="a", id="x-y", title="t", author="a", partner="univ-alpha",
                                audience=Audience(all=True), profile="standard", identity_free=False)
    assert refused.value.say("fr") == "Seuls les notebooks au format nbformat 4 peuvent être publiés."
    assert str(refused.value) == "Only nbformat 4 notebooks can be published."
    taken = PublishForbidden("id_unavailable", id="carte")
    assert isinstance(taken, PermissionError)
    assert taken.say("fr") == "L'identifiant « carte » n'est pas disponible : choisissez-en un autre."


def test_voilas_own_texts_are_said_in_french_in_a_streamed_page():
    """Voilà's spinner and progress texts are replaced even when a chunk boundary cuts
    them; the widget texts' script comes once, before the spinner; the rest is intact."""
    page = (
        b'<html><body><div id="loading" style="display: flex;"><h2 id="loading_text">Running carte...</h2>'
        b"</div><script>let defaultText = `Executing ${cell_index} of ${cell_count}`</script>"
        b"<p>Running the model</p></body></html>"
    )
    for cut in range(1, len(page)):
        texts = PageTexts(voila_texts(CATALOGUE["fr"]))
        out = (texts.feed(page[:cut]) + texts.feed(page[cut:]) + texts.end()).decode()
        assert '<h2 id="loading_text">Calcul de carte...</h2>' in out
        assert "`Cellule ${cell_index} sur ${cell_count}`" in out
        assert out.count("Chargement du widget…") == 1 and out.count("new MutationObserver") == 1
        assert out.index("new MutationObserver") < out.index('<div id="loading"')
        assert "<p>Running the model</p>" in out and "Executing" not in out


def test_live_pages_load_a_few_at_once_a_turn_ends_with_its_websocket_or_its_hold(tmp_path, monkeypatch):
    import hub.services.dashboards.service as service_module

    monkeypatch.setattr(service_module, "TURN_WAIT", 0.3)
    monkeypatch.setattr(service_module, "TURN_HOLD", 1.5)
    svc = service(tmp_path)
    svc.live_places = asyncio.Semaphore(2)

    async def scenario():
        assert await svc.live_turn("carte", "session-a")
        assert await svc.live_turn("carte", "session-b")
        assert not await svc.live_turn("carte", "session-c")  # both places taken: ask again
        waiting = asyncio.ensure_future(svc.live_turn("carte", "session-c"))
        await asyncio.sleep(0.05)
        svc.view_opened(Slot("carte", "decideur1", "session-a"))  # a's live page connected
        assert await waiting
        svc.view_opened(Slot("carte", "decideur1", "session-a"))  # its turn already ended: no place freed twice
        assert not await svc.live_turn("carte", "session-d")
        monkeypatch.setattr(service_module, "TURN_WAIT", 5)
        began = asyncio.get_running_loop().time()  # b's and c's websockets never come: their holds end their turns
        assert await svc.live_turn("carte", "session-d") and await svc.live_turn("carte", "session-e")
        assert 1.0 < asyncio.get_running_loop().time() - began < 3.0
        assert svc.turns.keys() == {("carte", "session-d"), ("carte", "session-e")}

    asyncio.run(scenario())


def test_live_pages_wait_until_viewers_stop_arriving_or_the_longest_wait(tmp_path, monkeypatch):
    """A crowd is served its logins and snapshot pages first: no live page's turn while
    viewers keep arriving (ARRIVALS_QUIET after the last one), but never more than
    ARRIVALS_QUIET_MAX."""
    import hub.services.dashboards.service as service_module

    monkeypatch.setattr(service_module, "ARRIVALS_QUIET", 0.4)
    monkeypatch.setattr(service_module, "ARRIVALS_QUIET_MAX", 1.2)
    svc = service(tmp_path)

    async def scenario():
        loop = asyncio.get_running_loop()
        svc.arrival()
        began = loop.time()
        assert await svc.live_turn("carte", "session-a")
        assert loop.time() - began >= 0.4

        async def arriving_steadily():
            for _ in range(40):
                svc.arrival()
                await asyncio.sleep(0.1)

        arrivals = asyncio.ensure_future(arriving_steadily())
        await asyncio.sleep(0)  # the first of them arrived
        began = loop.time()
        assert await svc.live_turn("carte", "session-b")
        assert 1.2 <= loop.time() - began < 3.0 and not arrivals.done()
        arrivals.cancel()

    asyncio.run(scenario())


def test_views_keep_their_places_when_the_server_gives_no_kernel_list(tmp_path, monkeypatch):
    svc = service(tmp_path)
    mine, gone = Slot("carte", "decideur1", "a", kernel="k1", served=True), Slot("carte", "decideur2", "b",
                                                                                   kernel="k2", served=True)
    svc.slots |= {mine, gone}
    answers = iter([None, ([{"id": "k1"}], 0)])

    async def listed(dashboard_id, upstream=None):
        return next(answers)

    monkeypatch.setattr(svc, "listed_kernels", listed)
    asyncio.run(svc.forget_ended("carte"))  # the server failed to list: nothing is known to have ended
    assert svc.slots == {mine, gone}
    asyncio.run(svc.forget_ended("carte"))  # listed: k2 ended, its view's place is given back
    assert svc.slots == {mine}


def test_the_kernel_list_names_a_kernel_still_starting_instead_of_failing():
    from traitlets import TraitError
    from tornado import web

    from hub.services.dashboards.voila_app import kernel_models

    class Manager:
        def list_kernel_ids(self):
            return ["running", "starting", "ended"]

        def kernel_model(self, kernel_id):
            if kernel_id == "starting":  # Jupyter Server before the kernel's first activity
                raise TraitError("The 'last_activity' trait expected a datetime, not the NoneType None.")
            if kernel_id == "ended":
                raise web.HTTPError(404)
            return {"id": kernel_id, "execution_state": "idle"}

    assert kernel_models(Manager()) == [{"id": "running", "execution_state": "idle"},
                                        {"id": "starting", "execution_state": "starting"}]
