# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures of the doppler package's pytest files. What every test shares
(ring names, the CI skip policy) is tests/support/doppler_testing.py."""
import os
import subprocess

import doppler_testing
import pytest

names = doppler_testing.names
pytest_runtest_makereport = doppler_testing.pytest_runtest_makereport


@pytest.fixture
def throwaway_user():
    """(uid, gid) of a user created for this test (useradd -M, no home, no
    login) and removed afterwards, so both sides of "another user" run for
    real where CI runs (as root)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to create a throwaway user (useradd) and run as it (setpriv)")
    name = f"dpqa{os.getpid()}"
    subprocess.run(["useradd", "-M", "-N", "-d", "/nonexistent", "-s", "/usr/sbin/nologin", name],
                   check=True, capture_output=True, timeout=60)
    try:
        import pwd
        pw = pwd.getpwnam(name)
        yield pw.pw_uid, pw.pw_gid
    finally:
        subprocess.run(["userdel", name], capture_output=True, timeout=60)
