"""The Bolt listener of a hotline call's Call back button: it only records (the work is bot/hotline/callbacks.py)."""

from __future__ import annotations

from slack_bolt import App

from bot.app import Access
from bot.clicks import ClickGuard, RecordRefusal, phone_clicker
from bot.hotline.messages import CALL_BACK_ACTION
from voice.hotline.models import CALL_BACK
from voice.hotline.service import HotlineService
from voice.queue.work import WorkQueue


def register_hotline_listeners(app: App, *, hotline: HotlineService, queue: WorkQueue, access: Access = Access(),
                               record_refusal: RecordRefusal = lambda **refusal: None) -> None:
    # Who may place calls may call a caller back, as for an alert's buttons, on a call of their own workspace.
    guard = ClickGuard(lambda call_id: _workspace(hotline, call_id), queue, access, record_refusal, what="call")
    app.action(CALL_BACK_ACTION)(phone_clicker(queue, guard, CALL_BACK))


def _workspace(hotline: HotlineService, call_id: int) -> str | None:
    call = hotline.get(call_id)
    return call.team_id if call else None
