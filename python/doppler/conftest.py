# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures shared by the doppler package's pytest files."""
import itertools
import os
import subprocess

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


# ---------------------------------------------------------------------------
# Under CI every test runs: an unexpected skip fails.
# ---------------------------------------------------------------------------

# Skip reasons CI accepts (substrings). Empty: CI runs as root, with
# unshare(1), useradd(8) and setpriv(1), so every test can set itself up.
# A test that legitimately cannot run in CI goes here, with a comment why.
ALLOWED_SKIPS = ()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """With CI=true in the environment, a skip whose reason is not in
    ALLOWED_SKIPS is reported as a failure: a test that quietly does not run
    checks nothing, and CI would stay green."""
    outcome = yield
    rep = outcome.get_result()
    if not rep.skipped or hasattr(rep, "wasxfail") or os.environ.get("CI") != "true":
        return
    reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
    if any(allowed in reason for allowed in ALLOWED_SKIPS):
        return
    rep.outcome = "failed"
    rep.longrepr = (f"skipped under CI=true, where every test must run: {reason}\n"
                    "Fix the environment, or add the reason to ALLOWED_SKIPS in "
                    "python/doppler/conftest.py if the test cannot run there.")
