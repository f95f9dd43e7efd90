"""Runtime settings: one frozen object, built from ETALAGE_* variables and command-line flags."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import ipaddress
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

__all__ = ["LOG_FORMATS", "LOG_LEVELS", "UPSTREAM_CLIENTS", "Settings", "SettingsError", "TrustedProxies", "parse_key_ring"]


class SettingsError(ValueError):
    """A setting has a value Etalage cannot use; the message names the setting."""


# An RFC 6265 cookie name: a token, without separators, spaces or controls.
_COOKIE_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# Names of cookies Etalage keeps for itself besides the visitor cookie (etalage.http.cookies.PREVIEW_COOKIE;
# settings sit below http, so the name is written here too).
_OWN_COOKIES = frozenset({"etalage_preview"})


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected true or false, got {text!r}")


def _words(text: str) -> frozenset[str]:
    return frozenset(word.strip() for word in text.split(",") if word.strip())


def parse_key_ring(text: str) -> tuple[tuple[str, bytes], ...]:
    """`id:secret,old:secret` (first signs, all verify); a bare secret gets the id `k1`."""
    ring = []
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        key_id, sep, secret = entry.partition(":")
        if not sep:
            key_id, secret = "k1", entry
        if not key_id.isalnum():
            raise ValueError(f"key id {key_id!r} must be letters and digits")
        if len(secret) < 16:
            raise ValueError(f"the secret for key {key_id!r} is shorter than 16 characters")
        ring.append((key_id, secret.encode()))
    if len({key_id for key_id, _ in ring}) != len(ring):
        raise ValueError("key ids must be unique")
    return tuple(ring)


class TrustedProxies:
    """The proxies in front of Etalage, by address or network (`10.0.0.0/8`): ingress pods change
    their addresses, so a network is what can be listed for them."""

    def __init__(self, entries: frozenset[str]) -> None:
        networks = [ipaddress.ip_network(entry, strict=False) for entry in entries]
        self._addresses = frozenset(str(network.network_address) for network in networks if network.num_addresses == 1)
        self._networks = tuple(network for network in networks if network.num_addresses > 1)

    def __contains__(self, peer: object) -> bool:
        if peer in self._addresses:
            return True
        if not self._networks or not isinstance(peer, str):
            return False
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:  # a Unix socket's peer, or none
            return False
        return any(address in network for network in self._networks)


@dataclass(frozen=True)
class Settings:
    """Everything Etalage needs to run. Environment names are ETALAGE_<FIELD> in upper case."""

    upstream: str = ""
    rules_dir: Path = Path("rules")
    host: str = "127.0.0.1"
    port: int = 8000
    # Signing keys for the visitor cookie; see parse_key_ring for the format.
    secret: tuple[tuple[str, bytes], ...] = field(default=(), repr=False, metadata={"parse": parse_key_ring})
    cookie_name: str = "etalage_vid"
    # Profiles, and the id cookie, expire after this many days without a visit.
    retention_days: int = 180
    # Pass the client's Host upstream (as CDNs do); off sends the upstream URL's own host.
    preserve_host: bool = field(default=True, metadata={"parse": _bool})
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    # Largest decompressed HTML page Etalage will buffer to personalize; larger pages stream through.
    max_page_bytes: int = 4 * 1024 * 1024
    # Most elements (start tags) and deepest nesting of a page Etalage will analyse; past either the
    # page goes out as the origin sent it (fail-open reason page_too_complex). Analysis time grows
    # with the elements and, per element, with the depth: 100,000 nested <div>s took 93 s.
    max_page_elements: int = 30_000
    max_page_depth: int = 512
    # Seconds a visitor waits for the first look at a new page (its analysis, in a worker thread);
    # past it the page goes out as the origin sent it (fail-open reason analysis_timeout) while the
    # analysis completes for the visitors after them.
    analysis_timeout: float = 0.5
    # Largest request head Etalage accepts (as nginx and Envoy bound theirs): a longer target answers 414,
    # headers larger in total (names, values, ": " and CRLF) or more in number answer 431.
    max_request_header_bytes: int = 32 * 1024
    max_request_headers: int = 100
    # Time budget for a profile lookup; past it the page is served unpersonalized.
    store_timeout: float = 0.05
    admin_token: str = field(default="", repr=False)
    # Bearer token for /.etalage/metrics only (the admin token works there too): for the scraper, which
    # then holds no power over customers' data.
    metrics_token: str = field(default="", repr=False)
    # Bearer key of the server-to-server API (/.etalage/api/: link, unlink, events); the shop's
    # backend holds it, never the admin token. Empty: the API is off.
    api_key: str = field(default="", repr=False)
    # Profiles in Redis (redis://host:port/db, redis+sentinel://host:port,.../service_name[/db] or
    # redis+cluster://host:port,...) instead of the embedded store.
    redis_url: str = field(default="", repr=False)
    # Longest a page view waits in a process before it is written to Redis (writes are batched): what a
    # crash (SIGKILL, power loss) can lose, besides views queued while Redis was unreachable. A
    # graceful stop writes everything. 0 writes each view right after its response.
    redis_write_delay: float = 0.05
    # Where the embedded store keeps its profiles between runs; empty keeps them in memory only.
    profiles_file: str = ""
    # How Etalage talks to the upstream: aiohttp (fastest, see benchmarks/README.md) or httpx.
    upstream_client: str = "aiohttp"
    # Event-loop lag in seconds that load shedding keeps to: above it a growing share of page views
    # passes through unpersonalized (http/shedding.py).
    overload_lag: float = 0.005
    # Reload the rules folder when a file in it changes (off: rules load once at start).
    watch_rules: bool = field(default=True, metadata={"parse": _bool})
    # Worker processes for `serve`; 0 means automatic: one per CPU core with Redis, else one.
    workers: int = 0
    # Peers (addresses or networks) whose X-Forwarded-* headers are trusted and extended instead of
    # overwritten; `trusted` is what requests are checked against.
    trusted_proxies: frozenset[str] = field(default=frozenset(), metadata={"parse": _words})
    log_level: str = "info"
    # text, or json: one JSON object per line with the request id, uvicorn's access log included.
    log_format: str = "text"
    # Run the rules' experiments and the programme holdout. Off pauses them all without a rule edit:
    # everyone gets each experiment's control (or rolled-out winner), nobody is held out, nothing is assigned.
    experiments: bool = field(default=True, metadata={"parse": _bool})
    # Consent withdrawn on a device linked to a customer: every device of the customer stops reading and
    # writing the profile until a login with consent; on, the profile's data is erased as well (only the
    # refusal is kept), off keeps it for when consent comes back.
    withdrawal_erases_customer: bool = field(default=True, metadata={"parse": _bool})
    # Where the rules' [[trigger]] moments go (the shop's messaging platform), as signed webhooks
    # (Standard Webhooks). Empty: triggers are off, nothing is queued.
    webhook_url: str = field(default="", repr=False)  # its path may hold the platform's token
    # The signing secret the receiver verifies with, "whsec_" and base64, as the messaging platform gives it.
    webhook_secret: str = field(default="", repr=False)
    # The queue file with the embedded store (JSON lines, synced on every write); empty: in memory, lost on restart.
    # With Redis the queue is in Redis.
    webhook_queue_file: str = ""
    # Seconds one delivery attempt may take (connect and read), without any page waiting for it.
    webhook_timeout: float = 10.0
    # Attempts before a webhook goes to the dead-letter list; retries wait webhook_retry_base * 2^(n-1) seconds (at most an hour).
    webhook_max_attempts: int = 10
    webhook_retry_base: float = 5.0
    # Redis: seconds an entry may stay with a worker that took it before another worker takes it over (a crash).
    webhook_reclaim_after: float = 60.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str], **overrides: Any) -> Settings:
        """Settings from ETALAGE_* variables; keyword overrides (from flags) win. None means not given."""
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            name = f"ETALAGE_{f.name.upper()}"
            if name not in environ:
                continue
            raw = environ[name]
            parse = f.metadata.get("parse") or _PARSERS.get(str(f.type), str)
            try:
                values[f.name] = parse(raw)
            except ValueError as exc:
                raise SettingsError(f"{name}: {exc}") from exc
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls(**values).validated()

    def validated(self) -> Settings:
        if self.upstream:
            parts = urlsplit(self.upstream)
            if parts.scheme not in {"http", "https"} or not parts.hostname:
                raise SettingsError(f"upstream: expected an http(s) URL like http://shop:8080, got {self.upstream!r}")
            if parts.path not in {"", "/"} or parts.query or parts.fragment:
                raise SettingsError("upstream: give scheme, host and port only; paths are forwarded as requested")
        if self.upstream_client not in UPSTREAM_CLIENTS:
            raise SettingsError(f"upstream_client: {self.upstream_client!r} is not one of {', '.join(UPSTREAM_CLIENTS)}")
        if self.log_format not in LOG_FORMATS:
            raise SettingsError(f"log_format: {self.log_format!r} is not one of {', '.join(LOG_FORMATS)}")
        for entry in sorted(self.trusted_proxies):
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise SettingsError(f"trusted_proxies: {entry!r} is not an IP address or network (such as 10.0.0.0/8)") from None
        if self.log_level not in LOG_LEVELS:
            raise SettingsError(f"log_level: {self.log_level!r} is not one of {', '.join(LOG_LEVELS)}")
        if self.workers < 0:
            raise SettingsError("workers: must be 0 (automatic) or more")
        if self.redis_url:
            redis_url = urlsplit(self.redis_url)
            if redis_url.scheme not in {"redis", "rediss", "unix", "redis+sentinel", "redis+cluster"}:
                raise SettingsError(
                    "redis_url: expected redis://host:port/db, rediss://..., unix://..., redis+sentinel://... or redis+cluster://..."
                )
            if redis_url.scheme in {"redis", "rediss"} and not re.fullmatch(r"/?[0-9]*", redis_url.path):
                raise SettingsError(
                    f"redis_url: the database after the host is a number, as in redis://host:6379/0, not {redis_url.path!r}"
                )
            if redis_url.scheme == "redis+sentinel" and not redis_url.path.strip("/"):
                raise SettingsError("redis_url: expected redis+sentinel://host:port[,host:port...]/service_name[/db]")
        if not _COOKIE_TOKEN.fullmatch(self.cookie_name):
            raise SettingsError(f"cookie_name: {self.cookie_name!r} is not a valid cookie name (letters, digits and !#$%&'*+-.^_`|~)")
        if self.cookie_name in _OWN_COOKIES:
            raise SettingsError(f"cookie_name: {self.cookie_name!r} is the name of another of Etalage's cookies")
        if self.cookie_name.lower() in ("__host-", "__secure-"):
            raise SettingsError(f"cookie_name: {self.cookie_name!r} is only a prefix; add a name, as in __Host-etalage_vid")
        if self.redis_write_delay < 0:
            raise SettingsError("redis_write_delay: must be 0 or more")
        for name in ("admin_token", "api_key", "metrics_token"):
            # The admin token also signs preview links: anyone holding one could test guesses offline.
            if 0 < len(getattr(self, name)) < 16:
                raise SettingsError(
                    f"{name}: shorter than 16 characters; make one with: python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
                )
        if self.metrics_token and self.metrics_token in (self.admin_token, self.api_key):
            raise SettingsError("metrics_token: must differ from admin_token and api_key (the scraper holds it, nothing more)")
        if self.api_key and self.api_key == self.admin_token:
            raise SettingsError("api_key: must differ from admin_token (the shop's servers hold the API key, never the admin token)")
        if self.webhook_url:
            _check_webhooks(self)
        if not 0 < self.port < 65536:
            raise SettingsError(f"port: {self.port} is not a TCP port")
        for name in (
            "connect_timeout",
            "read_timeout",
            "store_timeout",
            "retention_days",
            "max_page_bytes",
            "max_page_elements",
            "max_page_depth",
            "analysis_timeout",
            "overload_lag",
            "max_request_header_bytes",
            "max_request_headers",
        ):
            value = getattr(self, name)
            if not math.isfinite(value) or value <= 0:  # nan passes `<= 0`, and made every request a 502
                raise SettingsError(f"{name}: must be a positive number")
        return self

    @cached_property
    def trusted(self) -> TrustedProxies:
        return TrustedProxies(self.trusted_proxies)

    @property
    def retention_seconds(self) -> int:
        return self.retention_days * 24 * 3600

    @property
    def upstream_origin(self) -> str:
        """scheme://host[:port] of the upstream, without a trailing slash."""
        return self.upstream.rstrip("/")


def _check_webhooks(settings: Settings) -> None:
    parts = urlsplit(settings.webhook_url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise SettingsError(f"webhook_url: expected an http(s) URL, got {settings.webhook_url!r}")
    secret = settings.webhook_secret
    try:
        valid = secret.startswith("whsec_") and len(base64.b64decode(secret.removeprefix("whsec_") + "==", validate=False)) >= 16
    except (binascii.Error, ValueError):
        valid = False
    if not valid:
        raise SettingsError(
            "webhook_secret: expected the signing secret as the messaging platform gives it, whsec_ and base64 of 16 bytes or more "
            "(make one with: python -c 'import base64, secrets; print(\"whsec_\" + base64.b64encode(secrets.token_bytes(32)).decode())')"
        )
    if settings.webhook_max_attempts < 1:
        raise SettingsError("webhook_max_attempts: must be 1 or more")
    for name in ("webhook_timeout", "webhook_retry_base", "webhook_reclaim_after"):
        if getattr(settings, name) <= 0:
            raise SettingsError(f"{name}: must be positive")
    if settings.redis_url and settings.webhook_reclaim_after <= settings.webhook_timeout:
        raise SettingsError("webhook_reclaim_after: must be longer than webhook_timeout, or a worker's attempt in flight is taken over")


UPSTREAM_CLIENTS = ("aiohttp", "httpx")
LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")  # uvicorn's
_PARSERS = {"int": int, "float": float, "Path": Path, "str": str}
