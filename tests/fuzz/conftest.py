"""Hypothesis profiles: a small, reproducible run under plain `pytest`; HYPOTHESIS_PROFILE=long by hand."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings

# CI: few examples, the same ones every run (derandomize), no example database written into the checkout,
# no per-example deadline (a busy 2-core machine is slow, not wrong: a hang is caught by the run's own bound),
# and no shrinking (minutes of CLI runs): the failing example is printed as found.
settings.register_profile(
    "default", max_examples=3, deadline=None, derandomize=True, database=None, print_blob=True,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
# By hand: many random examples; a failure it finds is kept as an @example in the test.
settings.register_profile(
    "long", max_examples=300, deadline=None, database=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
