"""A call belongs to the first CallUUID Plivo reports for it.

Plivo's callbacks for a call carry its CallUUID. Once one has been seen (on
the ring, the answer or the hangup), an event that carries another UUID is
not about this call (a stale or misrouted callback), and must change nothing:
otherwise a stray hangup would end a live call under its callee's finger.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict

log = logging.getLogger(__name__)

_WARNED_MAX = 1024  # remembered (token, uuid) pairs, so a redelivered stray is logged once
_warned: OrderedDict[tuple[str, str], None] = OrderedDict()
_lock = threading.Lock()


def is_foreign(token: str, bound: str | None, given: str, event: str) -> bool:
    """Whether `given` is another call's UUID than the one `token` is bound to; logged once at WARNING."""
    if bound is None or bound == given:
        return False
    with _lock:
        first = (token, given) not in _warned
        _warned[(token, given)] = None
        while len(_warned) > _WARNED_MAX:
            _warned.popitem(last=False)
    if first:
        log.warning("call %s: ignored a %s for another Plivo call (%s…); it stays bound to %s…",
                    token[:6], event, given[:8], bound[:8])
    return True
