"""ConsentPolicy: only known sources."""

import pytest

from etalage.consent import ConsentPolicy


def test_consent_policy_unknown_source_is_refused():
    with pytest.raises(ValueError):
        ConsentPolicy(sources=("usercentrics",))
