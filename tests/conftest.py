"""Shared pytest setup: hypothesis profiles.

The default profile ("ci") keeps the suite fast; set ``MINIGRAD_HYPOTHESIS=thorough``
for many more examples per property.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "thorough", max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=10, deadline=None)
settings.load_profile(os.environ.get("MINIGRAD_HYPOTHESIS", "ci"))
