"""The journal of callbacks kept through a database outage: on disk before Plivo is answered, private,
holding only what a progress event reads; applied in order, once, by the process that kept it or, if it
died, by the next one that looks; an outage during the replay leaves the rest for later."""

from __future__ import annotations

import stat
import threading
import time
from datetime import datetime, timezone

from answer_server.plivo.journal import (
    CallbackJournal,
    Entry,
    JournalReplayer,
    entry_line,
    parse_line,
)

CAME = datetime(2026, 11, 29, 10, 0, tzinfo=timezone.utc)


def hangup(n: int) -> Entry:
    return Entry("plivo", "hangup", f"token-{n:02d}-abcdefghijklmnop", {"CallUUID": f"call-{n}",
                                                                        "CallStatus": "completed"}, CAME)


class StillDown(Exception):
    pass


def test_a_kept_callback_holds_only_what_its_event_reads_in_a_file_only_this_server_can_read(tmp_path):
    journal = CallbackJournal(tmp_path / "journal")
    journal.record(Entry("plivo", "hangup", "token-abcdefghijklmnop", {
        "CallUUID": "call-1", "CallStatus": "completed", "Duration": "21", "Digits": "483920",
        "From": "14155550100", "To": "14155550123", "X-Unknown": "x" * 5000}, CAME))
    [kept] = (tmp_path / "journal").glob("*.jsonl")
    text = kept.read_text()
    assert "483920" not in text and "Digits" not in text and "14155550123" not in text and "X-Unknown" not in text
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "journal").stat().st_mode) == 0o700
    [entry] = [parse_line(line) for line in kept.read_bytes().splitlines(keepends=True)]
    assert entry.fields == {"CallUUID": "call-1", "CallStatus": "completed", "Duration": "21"}
    assert entry.arrived == CAME


def test_lines_cut_short_or_not_ours_are_not_entries():
    whole = entry_line(hangup(1))
    assert parse_line(whole) == hangup(1)
    for broken in (whole[:-10], b"", b"[]", b'{"hook": 1}', whole.replace(b"+00:00", b"")):
        assert parse_line(broken) is None


def test_an_outage_during_the_replay_leaves_the_rest_for_the_next_try_and_nothing_is_applied_twice(tmp_path):
    journal = CallbackJournal(tmp_path)
    for n in range(3):
        journal.record(hangup(n))
    applied, down = [], {"at": 1}

    def apply(entry: Entry) -> None:
        if down["at"] is not None and len(applied) == down["at"]:
            raise StillDown()
        applied.append(entry.token[:8])

    try:
        journal.replay(apply)
    except StillDown:
        pass
    assert applied == ["token-00"] and journal.pending()
    down["at"] = None
    assert journal.replay(apply) == 2
    assert applied == ["token-00", "token-01", "token-02"]
    assert not journal.pending() and not list(tmp_path.glob("*.jsonl"))
    journal.record(hangup(3))  # the next outage: a new file
    assert journal.replay(apply) == 1 and applied[-1] == "token-03"


def test_a_live_process_keeps_its_own_file_and_a_dead_ones_is_applied_once_by_another(tmp_path):
    alive, other = CallbackJournal(tmp_path), CallbackJournal(tmp_path)
    alive.record(hangup(1))
    alive.record(hangup(2))
    applied: list[str] = []
    assert other.pending()
    assert other.replay(lambda entry: applied.append(entry.token[:8])) == 0  # its process applies it
    alive.close()  # the process dies: its lock goes, its file stays
    assert other.replay(lambda entry: applied.append(entry.token[:8])) == 2
    assert other.replay(lambda entry: applied.append(entry.token[:8])) == 0
    assert applied == ["token-01", "token-02"] and not list(tmp_path.glob("*"))


def test_the_replayer_applies_what_was_kept_as_soon_as_it_can_then_its_thread_ends(tmp_path):
    journal = CallbackJournal(tmp_path)
    applied, down = [], threading.Event()
    down.set()

    def apply(entry: Entry) -> None:
        if down.is_set():
            raise StillDown()
        applied.append(entry.token[:8])

    replayer = JournalReplayer(journal, apply, interval=0.05)
    journal.record(hangup(1))
    replayer.wake()
    time.sleep(0.3)
    assert applied == [] and journal.pending()
    down.clear()
    deadline = time.monotonic() + 2
    while (applied == [] or replayer.running) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert applied == ["token-01"] and not replayer.running and not journal.pending()
    replayer.stop()
