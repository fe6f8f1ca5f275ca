"""Dashboards on the docker backend (each dashboard's Voilà in a container of the lab
image): viewers kept apart from each other's kernels, static files kept by the service
behind the audience check, the caps under 100 concurrent first requests, a view without
websocket released, Font Awesome served by the hub, the map's gallery picture drawn in a
container."""

from __future__ import annotations

import pytest

from tests.dashboardhub import (  # noqa: F401 (fixtures)
    MAP_ID,
    caps_hold_under_a_rush,
    docker_dashboards_hub,
    font_awesome_served_by_the_hub,
    people_of,
    static_files_kept_by_the_service,
    view_without_websocket_released,
    viewers_kept_apart,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def people(docker_dashboards_hub):
    return people_of(docker_dashboards_hub)


def test_a_viewer_reaches_only_the_kernel_of_their_own_page_view(docker_dashboards_hub, people):
    viewers_kept_apart(docker_dashboards_hub, people)


def test_a_static_file_once_relayed_is_answered_by_the_service_behind_the_audience_check(people):
    static_files_kept_by_the_service(people)


def test_a_page_view_without_websocket_gives_its_kernel_and_place_back(people):
    view_without_websocket_released(people)


def test_a_hundred_concurrent_first_requests_never_exceed_the_caps(people):
    caps_hold_under_a_rush(people)


def test_the_page_takes_font_awesome_from_the_hub_not_a_cdn(people):
    font_awesome_served_by_the_hub(people("coordinateur"), MAP_ID)


def test_the_maps_picture_was_drawn_in_a_container_of_its_author(docker_dashboards_hub, people):
    picture = people("decideur1").get(f"preview/{MAP_ID}")
    assert picture.status_code == 200
    assert picture.headers["Content-Type"] == "image/png"
    assert picture.content.startswith(b"\x89PNG\r\n\x1a\n")
    log = docker_dashboards_hub.log_path.read_text(errors="replace")
    assert f"dashboard {MAP_ID} version 1 executed in" in log
