"""The directory of the local backend's Voilà sockets (hub.backends.local.dashboard):
only this process's account may enter it, and nothing planted in its place is used."""

from __future__ import annotations

import os

import pytest

from hub.backends.local.dashboard import private_directory


def test_made_with_mode_0700_and_reused_as_it_is(tmp_path):
    made = private_directory(tmp_path / "dashboards" / ".sockets")
    assert made.is_dir() and (made.stat().st_mode & 0o777) == 0o700
    (made / "carte.sock").write_text("")  # what a killed service left
    assert private_directory(made) == made


def test_a_link_planted_in_its_place_is_refused(tmp_path):
    elsewhere = tmp_path / "ailleurs"
    elsewhere.mkdir(mode=0o700)
    (tmp_path / ".sockets").symlink_to(elsewhere)
    with pytest.raises(RuntimeError, match="mode 0700"):
        private_directory(tmp_path / ".sockets")


def test_a_directory_open_to_others_is_refused(tmp_path):
    (tmp_path / ".sockets").mkdir()
    os.chmod(tmp_path / ".sockets", 0o755)
    with pytest.raises(RuntimeError, match="mode 0700"):
        private_directory(tmp_path / ".sockets")


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a directory to another account needs root")
def test_another_accounts_directory_is_refused(tmp_path):
    (tmp_path / ".sockets").mkdir(mode=0o700)
    os.chown(tmp_path / ".sockets", 65534, 65534)
    with pytest.raises(RuntimeError, match="mode 0700"):
        private_directory(tmp_path / ".sockets")
