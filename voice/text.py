"""Text from outside (a message, a name), made fit to send on: to Plivo as XML, to Slack as text.

XML 1.0 cannot carry most control characters at all (https://www.w3.org/TR/xml/#charsets):
a document holding a NUL or an ESC is not well-formed, and Plivo drops a call
whose answer is not (cause 8011). Slack shows them as garbage. So what a
person typed is stripped of them before any document or message is built.
"""

from __future__ import annotations

import re

# C0 controls but tab, newline and carriage return; DEL and the C1 controls
# (allowed by XML 1.0 but "discouraged", and never meant to be shown); lone
# surrogates (no UTF-8 form); and the two non-characters XML excludes.
_UNFIT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]+")


def printable(text: str) -> str:
    """`text` with every run of characters XML 1.0 or Slack cannot show replaced by one space."""
    return _UNFIT.sub(" ", text)


def is_blank(text: str) -> bool:
    """Whether nothing a person could read or hear is left once the unfit characters are gone."""
    return not printable(text).strip()
