"""Reading the visitor's consent from the shop's consent-platform cookies and the Sec-GPC header.

Personalization is opt-in under the AVG/GDPR, so the safe reading of doubt is "no": a missing,
malformed, conflicting (one cookie name sent twice with different values) or refusing cookie means
no consent, and `Sec-GPC: 1` means no whatever the cookies say. Identical duplicates count once.
Malformed means anything but what the platform writes: a field or key that decides, spelt in another
case or with signs in it (`IsGpcEnabled`), is refused, not skipped; only spaces and tabs around a
cookie value are taken off.
A platform's reader that fails with an unexpected error (a bug) is logged and read as a refusal.

Sources (`[consent] sources = [...]` in the rule files, settings in `[consent.<source>]`):

- onetrust: `OptanonConsent`, a URL query string. The configured groups (default C0004,
  "targeting") must be `1`; the visitor must have interacted (`interactionCount >= 1` or an
  `OptanonAlertBoxClosed` cookie); no `AwaitingReconsent=true`; no `isGpcEnabled=1`.
- cookiebot: `CookieConsent`, a URL-encoded JavaScript object literal (not JSON). The configured
  categories must be `true` and `method` must be `'explicit'` (`'implied'` is no). The value `-1`
  (visitor outside the regions where Cookiebot asks) is no: Etalage never assumes consent.
- tcf: IAB TCF v2.2 consent string in `euconsent-v2` and/or `eupubconsent-v2`, decoded by
  `decode_tc_string`. Version 2, TCF policy version >= 4, service-specific, and the consent bit
  of every configured purpose (default 1, 5, 6) from the publisher segment when there is one,
  else from the core segment. Legitimate interest never counts. Any decode error is no.
- didomi: `didomi_token`, base64 (standard or URL-safe, padding optional) of JSON. The configured
  purposes must all be in `purposes.enabled` and none in `purposes.disabled`.
- etalage: Etalage's own first-party cookie for shops without a consent platform, default name
  `etalage_consent`. The shop's banner writes exactly `personalization=1` after "yes" and
  `personalization=0` after "no" (e.g. `Set-Cookie: etalage_consent=personalization=1; Path=/;
  Max-Age=31536000; SameSite=Lax`); any other value is malformed, so no.

In the rule files (see `build_policy`):

    [consent]
    sources = ["onetrust", "tcf"]     # `source = "onetrust"` is shorthand for a list of one
    [consent.onetrust]
    groups = ["C0004"]                # also: cookie
    [consent.tcf]
    purposes = [1, 5, 6]              # also: cookies = ["euconsent-v2", "eupubconsent-v2"]
    # [consent.cookiebot] cookie, categories; [consent.didomi] cookie, purposes; [consent.etalage] cookie

"tcf" cannot be the only source: the Dutch DPA holds that TCF in its current form does not meet
the AVG, so a shop lists its consent platform's own cookie too.

How several sources combine: every listed source whose cookie the visitor sent is read; consent
needs at least one of them, and every one that is present must grant. The first refusal in the
listed order is the reason given. Why not "the first present cookie decides": a consent platform
often writes two of these cookies for one choice (OneTrust writes OptanonConsent and, with TCF on,
eupubconsent-v2), and when they disagree the visitor's choice is in doubt, which means no; a
refusal is never outvoted by an accept in another cookie, whatever the order of the list.

The modules: policy (what a rule set asks, and the answer), read (how the sources combine), one
per platform (onetrust, cookiebot with jsliteral, tcf, didomi, own for Etalage's cookie), base
(what a platform's reader is) and compile (the [consent] table of the rule files).
"""

from etalage.consent.compile import build_policy
from etalage.consent.didomi import decode_didomi_token
from etalage.consent.jsliteral import parse_js_object
from etalage.consent.policy import (
    CONSENT_SOURCES,
    Consent,
    ConsentPolicy,
    CookiebotSettings,
    DidomiSettings,
    EtalageSettings,
    OneTrustSettings,
    TcfSettings,
)
from etalage.consent.read import read_consent
from etalage.consent.tcf import PublisherPurposes, TcDecodeError, TcString, decode_tc_string

__all__ = [
    "ConsentPolicy",
    "Consent",
    "read_consent",
    "CONSENT_SOURCES",
    "OneTrustSettings",
    "CookiebotSettings",
    "TcfSettings",
    "DidomiSettings",
    "EtalageSettings",
    "TcString",
    "PublisherPurposes",
    "TcDecodeError",
    "decode_tc_string",
    "parse_js_object",
    "decode_didomi_token",
    "build_policy",
]
