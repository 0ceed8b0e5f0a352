"""Test-suite settings shared by every test module."""

import os

from hypothesis import settings

# CI (CI=true) runs each property test on the same examples every time, so a run on a
# loaded machine passes or fails on the code alone; locally the examples stay random,
# which is how new counter-examples are found. No deadline: timing is not a property.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI", "").lower() in ("1", "true") else "dev")
