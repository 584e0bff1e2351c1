# SPDX-License-Identifier: GPL-3.0-or-later
"""The examples' tests follow the project's skip policy
(tests/support/doppler_testing.py): under CI=true an unexpected skip fails."""
import doppler_testing

pytest_runtest_makereport = doppler_testing.pytest_runtest_makereport
