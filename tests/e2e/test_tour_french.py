"""A French-speaking person's tour of every page each demo user can reach (issue 21):
each page is kept as tests/artifacts/tour-<user>-<page>.png, its visible text (the
body's innerText, the page title, and the title, placeholder, aria-label and alt
attributes and button values) must hold no English word of the interface, and it must
fit the window's width (a 1280 px wide window)."""

from __future__ import annotations

import re
import time

import pytest
import requests
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.e2e.conftest import screenshot
from tests.e2e.test_dashboards_browser import wait_for_map
from tests.e2e.test_lab_browser import login
from tests.hubclient import HubClient

pytestmark = pytest.mark.integration

#: English words and phrases of JupyterHub's, Voilà's, tornado's and our own pages, matched
#: as whole words (case-sensitive for the capitalised ones, which are labels and titles).
#: Words spelled the same in French (Actions, Permissions, Service, Version, Notes, Date,
#: Description, Options, Type, Applications, page, message) cannot tell a language and
#: are left out.
ENGLISH_WORDS = [
    "Start", "Stop", "Server", "Servers", "server", "servers", "Spawning", "Spawn", "spawn",
    "Logout", "Log out", "Login", "Log in", "Sign in", "Sign out", "Token", "Tokens",
    "Home", "minutes ago", "seconds ago", "hours ago", "days ago", "Never", "Not Found",
    "Forbidden", "Unauthorized", "Bad Request", "Internal Server Error", "Service Unavailable",
    "You do not have permission", "Named servers", "Add", "Delete", "Cancel", "Submit",
    "Your server", "requested", "Expires", "expires", "Error", "Loading", "Please", "please",
    "Refresh", "Save", "Search", "Edit", "User", "Users", "Username", "Password", "Admin",
    "Shutdown", "Running", "running", "Pending", "pending", "Failed", "failed", "Succeeded",
    "Queued", "Back", "Next", "Previous", "Close", "Welcome", "Open", "Share", "Sharing",
    "Access", "Settings", "Help", "Publish", "Dashboards", "Dashboard", "Reports", "Report",
    "Schedules", "Schedule", "Run now", "Last activity", "Created", "Revoke", "Request",
    "Authorized", "Control Panel", "Disk space", "Gallery", "Choose",
    "Profile", "Ready", "ready", "Executing", "Reading", "Kernel", "kernel", "Starting", "Done",
    "widget", "Toggle", "dark mode", "navigation", "Successfully", "logged out",
    "the", "The", "and", "your", "Your", "you", "You", "with", "not", "is", "are", "this",
    "This", "for", "from", "has", "have", "been", "will", "must", "cannot", "already",
]
ENGLISH = re.compile(r"(?<![\w-])(?:" + "|".join(re.escape(w) for w in ENGLISH_WORDS) + r")(?![\w-])")

#: Texts that stay as they are in a French page: proper nouns, the names of the software
#: people see (JupyterLab, JupyterHub, Voilà, Slurm, Austral), and technical values shown
#: as such (a notebook's parameter, a CLI command). Each is removed before the search.
ALLOWED = [
    re.compile(r"JupyterLab|JupyterHub|Jupyter|Voilà|Slurm|Austral|Python 3 \(ipykernel\)"),
    # a Python object's representation in a notebook's output, e.g. a run log's
    # "<Figure size 800x400 with 1 Axes>" (innerText holds no markup: these are texts)
    re.compile(r"<[A-Za-z][^<>\n]*>"),
]

USERS = ["analyste1", "analyste2", "decideur1", "coordinateur"]
LAB_USER = "analyste1"  # the analyst whose lab is started through the spawn form
RUNNING_LAB = "analyste2"  # the analyst whose lab runs during the tours (a single profile:
# their login goes straight to it); the others try to open it
OTHER = {user: RUNNING_LAB for user in USERS} | {RUNNING_LAB: LAB_USER}
DASHBOARD = "carte-covid-normandie"
SCHEDULE = "rapport-14"

VISIBLE_TEXT = """() => {
  const parts = [document.title, document.body ? document.body.innerText : ""];
  for (const el of document.querySelectorAll("[title], [placeholder], [aria-label], [alt]")) {
    for (const name of ["title", "placeholder", "aria-label", "alt"]) {
      if (el.getAttribute(name)) parts.push(el.getAttribute(name));
    }
  }
  for (const el of document.querySelectorAll("input[type=submit], input[type=button], input[type=reset], button[value]")) {
    parts.push(el.value);
  }
  return parts.join("\\n");
}"""


def english_in(text: str) -> list[str]:
    """The English words and phrases of ``text`` once the allowed texts are removed."""
    for allowed in ALLOWED:
        text = allowed.sub(" ", text)
    return sorted(set(ENGLISH.findall(text)))


class Tour:
    """One person's tour: each page visited is screenshot and its English noted."""

    def __init__(self, page, hub, user: str):
        self.page, self.hub, self.user = page, hub, user
        self.found: dict[str, list[str]] = {}

    def see(self, name: str) -> None:
        screenshot(self.page, f"tour-{self.user}-{name}")
        english = english_in(self.page.evaluate(VISIBLE_TEXT))
        if english:
            self.found[name] = english
        if self.page.evaluate("document.documentElement.scrollWidth > window.innerWidth"):
            self.found[f"{name} (wider than the window)"] = []

    def go(self, name: str, path: str, status: int) -> None:
        """Open ``path``; an answer other than ``status`` is noted as a finding."""
        answer = self.page.goto(f"{self.hub.url}{path}")
        if answer.status != status:
            self.found[f"{name} (HTTP {answer.status}, expected {status})"] = []

    def visit(self, name: str, path: str, status: int = 200) -> None:
        self.go(name, path, status)
        self.see(name)


def test_english_words_are_found_as_whole_words():
    """The search itself: an English label is found, the same letters inside a French
    word, an allowed name or a parameter are not."""
    assert english_in("Démarrer\nStart Server\nil y a 3 minutes ago") == ["Server", "Start", "minutes ago"]
    assert english_in("Démarrage du lab, Administrateur, report_date, tableaux-de-bord") == []
    assert english_in("Ouvrir JupyterLab, Voilà, Slurm, Austral") == []
    assert english_in("10:02 <Figure size 800x400 with 1 Axes>\nTerminé") == []


@pytest.fixture(scope="module")
def running_lab(hub):
    """analyste2's lab, running during the tours, stopped after them."""
    client = HubClient(hub.url, RUNNING_LAB, PASSWORD)
    started = client.start_server()
    assert started.status_code in (201, 202), started.text
    yield
    client.stop_server()


@pytest.fixture(scope="module")
def finished_run(hub):
    """A run of the coordinator's report, started once for the tour's report pages:
    returns its id (the tours of the first users happen while it runs)."""
    client = HubClient(hub.url, "coordinateur", PASSWORD)
    token = client.api("POST", "/users/coordinateur/tokens", json={"note": "tour"}).json()["token"]
    api = requests.Session()
    api.headers["Authorization"] = f"token {token}"
    base = f"{hub.url}/services/reports/api"
    started = api.post(f"{base}/schedules/{SCHEDULE}/runs", timeout=30)
    assert started.status_code == 202, started.text
    run_id = started.json()["id"]

    def wait() -> int:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if api.get(f"{base}/runs/{run_id}", timeout=30).json()["status"] in ("succeeded", "failed"):
                return run_id
            time.sleep(0.5)
        raise TimeoutError(f"run {run_id} not finished after 120 s")

    return wait


def tour_lab(tour: Tour) -> None:
    """The spawn form, its progress page, the lab's first screen; the lab is stopped,
    and a link into it gets the "not running" page."""
    page, hub, user = tour.page, tour.hub, tour.user
    tour.visit("spawn", "/hub/spawn")
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r".*/hub/spawn-pending/.*"))
    page.locator("#progress-details summary").click()
    expect(page.locator("#progress-message")).not_to_be_empty(timeout=30_000)
    tour.see("spawn-pending")
    page.wait_for_url(re.compile(rf".*/user/{user}/lab.*"), timeout=120_000)
    # the first screen of a fresh workspace (an earlier visit may have left a notebook
    # open: its code is not the interface)
    page.goto(f"{hub.url}/user/{user}/lab?reset")
    expect(page.get_by_text("bibliotheque", exact=True).first).to_be_visible(timeout=60_000)
    expect(page.locator(".jp-Launcher-body")).to_be_visible(timeout=60_000)
    tour.see("lab")
    HubClient(hub.url, user, PASSWORD).stop_server()
    tour.visit("not-running", f"/hub/user/{user}/lab", 424)


@pytest.mark.parametrize("user", USERS)
def test_a_french_speaker_sees_no_english_in_a_tour(page, hub, user, running_lab, finished_run):
    tour = Tour(page, hub, user)
    tour.visit("login", "/hub/login")
    login(page, hub, user)
    page.wait_for_url(re.compile(rf".*/(hub/home|hub/spawn|user/{user}/lab)$"))
    tour.visit("home", "/hub/home")
    if user == LAB_USER:
        tour_lab(tour)
    tour.visit("partage", "/hub/partage")
    tour.visit("acces", "/hub/acces")
    tour.visit("espace", "/hub/espace")
    tour.visit("token", "/hub/token")
    if user == "coordinateur":
        tour.go("admin", "/hub/admin", 200)
        expect(page.get_by_role("button", name="Tout démarrer")).to_be_visible(timeout=30_000)
        # every person's row, RUNNING_LAB's with its running lab's buttons
        expect(page.locator("tbody tr").filter(has_text=RUNNING_LAB).get_by_role("button", name="Arrêter le lab")).to_be_visible()
        tour.see("admin")
    else:
        tour.visit("admin", "/hub/admin", 403)
    tour.visit("dashboards", "/services/dashboards/")
    tour.visit("dashboard-loading", f"/services/dashboards/d/{DASHBOARD}/")
    wait_for_map(page)
    tour.see("dashboard")
    tour.visit("publish", "/services/dashboards/publish", 403 if user == "decideur1" else 200)
    tour.visit("reports", "/services/reports/")
    expect(page.locator("#logout")).to_have_text("Se déconnecter")  # as on the hub's pages
    run_id = finished_run()
    tour.visit("reports-gallery", "/services/reports/galerie")
    tour.visit("run-log", f"/services/reports/runs/{run_id}/run.log")
    if user == "coordinateur":  # a schedule is a card of the reports page
        tour.go("schedule", "/services/reports/", 200)
        page.locator(f"#schedule-{SCHEDULE}").scroll_into_view_if_needed()
        tour.see("schedule")
    else:  # which the others cannot manage: the API says so
        tour.visit("schedule", f"/services/reports/api/schedules/{SCHEDULE}", 403)
    tour.visit("bad-schedule", "/services/reports/api/schedules/Pas_un_id", 404)
    tour.visit("hub-404", "/hub/nulle-part", 404)
    tour.visit("bad-share-code", "/hub/accept-share?code=pas-un-code", 404)
    tour.visit("dashboards-404", "/services/dashboards/nulle-part", 404)
    tour.visit("dashboard-404", "/services/dashboards/d/nexiste-pas/", 404)
    tour.visit("reports-404", "/services/reports/nulle-part", 404)
    tour.visit("other-lab", f"/user/{OTHER[user]}/", 403 if OTHER[user] == RUNNING_LAB else 404)
    tour.visit("logout", "/hub/logout")
    assert not tour.found, "\n".join(f"{name}: {', '.join(words)}" for name, words in tour.found.items())
