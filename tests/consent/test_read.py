"""read_consent: how the listed sources combine, Sec-GPC over everything, and a failing reader."""

from __future__ import annotations

import asyncio
import logging

import pytest

from etalage.consent import CONSENT_SOURCES, Consent, ConsentPolicy, read_consent
from etalage.consent.read import READERS
from etalage.http.cookies import parse_cookie_header
from etalage.types import CookieJar
from tests.support.config import ACCEPT_ONETRUST

ONETRUST_AND_TCF = ConsentPolicy(sources=("onetrust", "tcf"))


def test_read_consent_registry_has_a_reader_for_every_source():
    assert tuple(READERS) == CONSENT_SOURCES


def test_read_consent_failing_reader_is_a_refusal_not_an_error(monkeypatch, caplog):
    def broken(settings: object, jar: CookieJar) -> str | None:
        raise KeyError("a bug")

    monkeypatch.setitem(READERS, "tcf", broken)
    with caplog.at_level(logging.ERROR, logger="etalage.consent"):
        consent = read_consent(ONETRUST_AND_TCF, parse_cookie_header(f"OptanonConsent={ACCEPT_ONETRUST}"), None)
    assert consent == Consent(
        False, "consent source 'tcf': reading its cookie failed inside Etalage (KeyError, see the log), so no consent"
    )
    assert [record.exc_info is not None for record in caplog.records] == [True]


def test_read_consent_guard_lets_cancellation_through(monkeypatch):
    def cancelled(settings: object, jar: CookieJar) -> str | None:
        raise asyncio.CancelledError

    monkeypatch.setitem(READERS, "onetrust", cancelled)
    with pytest.raises(asyncio.CancelledError):
        read_consent(ONETRUST_AND_TCF, parse_cookie_header("other=1"), None)
