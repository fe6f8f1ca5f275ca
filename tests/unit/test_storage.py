"""A person's private directory in their home: made without following what they put there."""

from __future__ import annotations

import os
import stat

import pytest

from hub import storage


def test_the_private_directory_is_made_for_its_owner_only(tmp_path):
    made = storage.private_dir(tmp_path, storage.TMP_DIR, None, None)
    assert made == tmp_path / ".tmp" and made.is_dir()
    assert stat.S_IMODE(os.lstat(made).st_mode) == 0o700
    (made / "kept").write_text("x")
    os.chmod(made, 0o755)
    assert storage.private_dir(tmp_path, storage.TMP_DIR, None, None) == made
    assert (made / "kept").exists() and stat.S_IMODE(os.lstat(made).st_mode) == 0o700


@pytest.mark.parametrize("planted", ["symlink", "file"])
def test_what_the_person_planted_there_is_refused_and_nothing_outside_is_touched(tmp_path, planted):
    """Attack: the person replaces ~/.tmp by a link to a directory they want the hub (root)
    to chown or chmod, or by a file."""
    home, outside = tmp_path / "home", tmp_path / "outside"
    home.mkdir()
    outside.mkdir(mode=0o755)
    if planted == "symlink":
        (home / ".tmp").symlink_to(outside, target_is_directory=True)
    else:
        (home / ".tmp").write_text("not a directory")
    with pytest.raises(OSError):
        storage.private_dir(home, storage.TMP_DIR, None, None)
    assert stat.S_IMODE(os.stat(outside).st_mode) == 0o755
