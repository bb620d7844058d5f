"""Disguised links: a label that names another site than the link goes to.

`[https://slack.com/login](https://evil.example/login)` reads as Slack's login page and opens another. Both
chat adapters show such a link with its real target beside the label (`label (<url>)`); a label that names
no site, or only the target's own, stays an ordinary link. Pure functions, no SDK.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

# IDNA reads these as the dot between labels (ideographic, fullwidth, halfwidth full stops); NFKC maps
# the fullwidth one and the one-dot leader, not the other two, so they are mapped here.
_DOTS = str.maketrans({"\u3002": ".", "\uff61": "."})
# Something a reader takes for a site: letters/digits/hyphens joined by dots, ending in a letter-only
# top-level label (`slack.com`, `docs.python.org`, `ѕlack.com` with a Cyrillic s); a scheme and path may
# surround it. Version numbers (`1.2`) and single words are not sites.
_HOST_LIKE = re.compile(r"(?<![\w-])((?:[\w-]+\.)+[^\W\d_]{2,})(?![\w-])")


def host(url: str) -> str:
    """The target's host, canonical (lower case, no trailing dot, no `www.`, IDNA-encoded); "" if none."""
    try:
        name = urlsplit(url).hostname or ""
    except ValueError:
        return ""
    return _canon(name)


def hosts_named(label: str) -> set[str]:
    """The sites a label names, as a reader would take them (after Unicode normalisation)."""
    text = unicodedata.normalize("NFKC", label).translate(_DOTS)
    return {_canon(m) for m in _HOST_LIKE.findall(text)}


def disguised(label: str, url: str) -> bool:
    """Whether `label` names any site other than the one `url` opens."""
    target = host(url)
    return any(named != target for named in hosts_named(label))


def _canon(name: str) -> str:
    name = name.strip().rstrip(".").lower()
    name = name.removeprefix("www.")
    try:
        return name.encode("idna").decode("ascii")
    except UnicodeError:  # not a valid IDNA name: compare as written (it differs from any real host)
        return name
