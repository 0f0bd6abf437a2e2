"""Text from outside (a message, a name), made fit to send on: to Plivo as XML, to Slack as text.

XML 1.0 cannot carry most control characters at all (https://www.w3.org/TR/xml/#charsets):
a document holding a NUL or an ESC is not well-formed, and Plivo drops a call
whose answer is not (cause 8011). Slack shows them as garbage. So what a
person typed is stripped of them before any document or message is built.

Format characters (Unicode category Cf) are invisible and silent, but change
what is shown: a right-to-left override makes "moc.elgoog" read as
"google.com", a zero-width space splits a word a filter was looking for
(https://www.unicode.org/reports/tr36/#Bidirectional_Text_Spoofing). They are
removed, not replaced: they stand inside words. That splits emoji sequences
joined by U+200D (a family shows as its people) and tag sequences (a Scottish
flag shows as a black flag); each part stays readable.
"""

from __future__ import annotations

import re

# C0 controls but tab, newline and carriage return; DEL and the C1 controls
# (allowed by XML 1.0 but "discouraged", and never meant to be shown); lone
# surrogates (no UTF-8 form); and the two non-characters XML excludes.
_UNFIT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]+")

# Every format (Cf) character of Unicode 14 (Python 3.11's unicodedata; tests/test_hostile_text.py checks
# that each Cf character of the running Python is in it): the soft hyphen, Arabic and Syriac number and
# mark signs, the zero-width space, joiners and directional marks (U+200B-U+200F), the bidi embeddings and
# overrides (U+202A-U+202E), the word joiner and invisible operators (U+2060-U+2064), the bidi isolates
# and deprecated controls (U+2066-U+206F), the byte-order mark (U+FEFF), interlinear annotations, and the
# format characters of later planes (Kaithi, Egyptian hieroglyph, shorthand, musical, tags).
_FORMAT = re.compile(
    "[\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064"
    "\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U00013438\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f]+")


def printable(text: str) -> str:
    """`text` without format characters, and with every run of characters XML 1.0 or Slack cannot show
    replaced by one space."""
    return _UNFIT.sub(" ", _FORMAT.sub("", text))


def is_blank(text: str) -> bool:
    """Whether nothing a person could read or hear is left once the unfit characters are gone."""
    return not printable(text).strip()
