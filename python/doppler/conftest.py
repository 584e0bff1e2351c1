# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures shared by the doppler package's pytest files."""
import itertools
import os

import pytest

_count = itertools.count(1)


def shm_path(name):
    return f"/dev/shm/doppler.{name}"


@pytest.fixture
def names():
    """new() gives a ring name no other test or concurrent run uses
    (qa-<pid>-<n>); nothing of them is left in /dev/shm afterwards."""
    made = []

    def new():
        made.append(f"qa-{os.getpid()}-{next(_count)}")
        return made[-1]

    yield new
    for n in made:
        try:
            os.unlink(shm_path(n))
        except FileNotFoundError:
            pass
