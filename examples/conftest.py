# SPDX-License-Identifier: GPL-3.0-or-later
"""The examples' tests follow the same skip policy as the doppler package's
(python/doppler/conftest.py): under CI=true an unexpected skip fails."""
import importlib.util
import os

_spec = importlib.util.spec_from_file_location(
    "doppler_qa_conftest", os.path.join(os.path.dirname(__file__), "..", "python", "doppler", "conftest.py"))
_policy = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_policy)
pytest_runtest_makereport = _policy.pytest_runtest_makereport
