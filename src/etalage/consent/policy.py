"""What a rule set asks of the visitor's consent: the sources to read, each one's settings, and the answer.

`build_policy` (compile.py) makes a `ConsentPolicy` from the rule files; `read_consent` (read.py)
answers it with a `Consent` for one request.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CONSENT_SOURCES",
    "ConsentPolicy",
    "Consent",
    "OneTrustSettings",
    "CookiebotSettings",
    "TcfSettings",
    "DidomiSettings",
    "EtalageSettings",
]

# One per field of ConsentPolicy below; read.py's READERS reads them, in this order.
CONSENT_SOURCES = ("onetrust", "cookiebot", "tcf", "didomi", "etalage")


@dataclass(frozen=True, slots=True)
class OneTrustSettings:
    cookie: str = "OptanonConsent"
    # Group ids that must all be granted; they differ per site (C0004 = targeting by default,
    # C0003 = functional on some sites).
    groups: tuple[str, ...] = ("C0004",)


@dataclass(frozen=True, slots=True)
class CookiebotSettings:
    cookie: str = "CookieConsent"
    # "marketing", not "preferences", by default: Cookiebot describes preferences as remembering
    # settings such as language or region, while Etalage builds a profile of what the visitor
    # browses to promote products, which is what a visitor allows under "marketing". A visitor who
    # only allowed preferences does not expect a behavioural profile. Shops whose banner explains
    # personalization under "preferences" can say so in [consent.cookiebot].
    categories: tuple[str, ...] = ("marketing",)


@dataclass(frozen=True, slots=True)
class TcfSettings:
    # euconsent-v2 is the usual name; OneTrust writes eupubconsent-v2. Every one present must grant.
    cookies: tuple[str, ...] = ("euconsent-v2", "eupubconsent-v2")
    # 1 store/access information on a device, 5 create profiles to personalise content,
    # 6 use profiles to select personalised content.
    purposes: tuple[int, ...] = (1, 5, 6)


@dataclass(frozen=True, slots=True)
class DidomiSettings:
    cookie: str = "didomi_token"
    # Didomi's ids for TCF purposes 5 and 6 (add "cookies", purpose 1, if the shop's banner shows it).
    purposes: tuple[str, ...] = ("create_content_profile", "select_personalized_content")


@dataclass(frozen=True, slots=True)
class EtalageSettings:
    cookie: str = "etalage_consent"


@dataclass(frozen=True, slots=True)
class ConsentPolicy:
    # Listed order only decides which refusal is reported; see the docstring of etalage.consent.
    sources: tuple[str, ...] = ("onetrust",)
    onetrust: OneTrustSettings = OneTrustSettings()
    cookiebot: CookiebotSettings = CookiebotSettings()
    tcf: TcfSettings = TcfSettings()
    didomi: DidomiSettings = DidomiSettings()
    etalage: EtalageSettings = EtalageSettings()

    def __post_init__(self) -> None:
        unknown = [source for source in self.sources if source not in CONSENT_SOURCES]
        if unknown or not self.sources:
            raise ValueError(f"consent sources must be some of {', '.join(CONSENT_SOURCES)}, not {list(self.sources)}")

    @property
    def cookies(self) -> tuple[str, ...]:
        """The names of the cookies the listed sources read, in order."""
        names: list[str] = []
        for source in self.sources:
            settings = getattr(self, source)
            names += settings.cookies if isinstance(settings, TcfSettings) else (settings.cookie,)
        return tuple(dict.fromkeys(names))

    def purposes_of(self, source: str) -> tuple[str, ...]:
        """What a granting source grants, as a profile records it ("onetrust:C0004", "tcf:5"): the
        groups, categories or purposes this policy asks of it."""
        asked: tuple[object, ...] = {
            "onetrust": self.onetrust.groups,
            "cookiebot": self.cookiebot.categories,
            "tcf": self.tcf.purposes,
            "didomi": self.didomi.purposes,
        }.get(source, ("personalization",))
        return tuple(f"{source}:{item}" for item in asked)

    @property
    def purposes(self) -> tuple[str, ...]:
        """Every purpose a consent under this policy can record, in the sources' order."""
        return tuple(purpose for source in self.sources for purpose in self.purposes_of(source))


@dataclass(frozen=True, slots=True)
class Consent:
    granted: bool
    reason: str  # in plain words, for shop staff
    # With a grant: the sources that granted and what they granted ("onetrust:C0004", "tcf:5"), kept on the profile.
    sources: tuple[str, ...] = ()
    purposes: tuple[str, ...] = ()
    # Refused by the browser's Global Privacy Control, whatever the shop's cookie banner says.
    global_privacy_control: bool = False
