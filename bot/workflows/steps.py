"""Two Workflow Builder steps (custom steps, `function_executed`): phone people until one acknowledges,
and call a number with a voice code.

A step is checked and recorded as the commands are (the same parsing, call
policy, rate limits and who may call; a refusal fails the step with the same
sentence); it completes when its alert or call ends, through the work queue
(voice/workflows/steps.py), with functions.completeSuccess and the step's own token.
https://docs.slack.dev/tools/bolt-python/concepts/custom-steps
"""

from __future__ import annotations

import logging
import re
from typing import Callable

from slack_bolt import App
from slack_sdk import WebClient

from bot.alerts.commands import MESSAGE_MAX
from bot.app import Access
from bot.codes.commands import OtpRequest, parse_voiceotp
from bot.codes.listeners import BotServices, order_of
from bot.delivery import slack_failures
from bot.directory import GROUP, USER, Recipient
from bot.messages import CommandError, rate_limit_text
from voice.alerts.models import ACKNOWLEDGED, CANCELLED, DROPPED, EXHAUSTED
from voice.alerts.service import AlertService
from voice.calls.legs import LegStore
from voice.calls.models import Requester
from voice.codes.service import Refused
from voice.queue.work import GiveUp, WorkItem
from voice.queue.workers import Policy, Registry
from voice.speech.text import is_blank, printable
from voice.workflows.steps import ALERT_STEP, CALL_STEP, STEP_DONE, WorkflowSteps

log = logging.getLogger(__name__)

PHONE_STEP = "phone_until_acknowledged"
CODE_STEP = "call_with_voice_code"
_SLACK_ID = re.compile(r"[A-Z0-9]{2,20}")
_OVER = (ACKNOWLEDGED, CANCELLED, EXHAUSTED, DROPPED)


def register_step_listeners(app: App, *, alerts: AlertService, services: BotServices, steps: WorkflowSteps,
                            access: Access, record_refusal: Callable[..., None]) -> None:
    app.function(PHONE_STEP)(_failing_safely(_phone_step(alerts, steps, access, record_refusal)))
    app.function(CODE_STEP)(_failing_safely(_code_step(services, steps, access)))


def _failing_safely(run):
    """Bolt acknowledged the step already: whatever goes wrong here must fail it, not leave it running."""
    def step(inputs: dict, body: dict, context, fail) -> None:
        try:
            run(inputs, body, context, fail)
        except Exception:
            log.exception("a workflow step could not be started")
            fail("Something went wrong on our side and no call was placed. Please try again.")

    return step


def _execution(body: dict, context) -> tuple[str, str, str]:
    event = body.get("event") or {}
    return (event.get("function_execution_id", ""), context.function_bot_access_token or "",
            body.get("team_id", ""))


def _requester(inputs: dict, team_id: str) -> Requester:
    who = inputs.get("requested_by") if isinstance(inputs.get("requested_by"), str) else ""
    channel = inputs.get("channel") if isinstance(inputs.get("channel"), str) else ""
    return Requester(user_id=who if _SLACK_ID.fullmatch(who or "") else "",
                     channel_id=channel if _SLACK_ID.fullmatch(channel or "") else "", team_id=team_id)


#: A workflow's inputs are typed by whoever builds it: they cannot prove who asks, or from where.
GUARDED = ("Workflow Builder steps are off on this server while ALLOWED_SLACK_USERS or ALLOWED_SLACK_CHANNELS "
           "is set: a workflow cannot prove who asked for the call.")


def _guarded(access: Access) -> bool:
    return bool(access.users or access.channels)


def _phone_step(alerts: AlertService, steps: WorkflowSteps, access: Access, record_refusal):
    def run(inputs: dict, body: dict, context, fail) -> None:
        execution, token, team = _execution(body, context)
        if _guarded(access):
            return fail(GUARDED)
        requester = _requester(inputs, team)
        people = [user for user in inputs.get("people") or [] if isinstance(user, str) and _SLACK_ID.fullmatch(user)]
        group = inputs.get("group") if isinstance(inputs.get("group"), str) else ""
        stage = [Recipient(USER, user, f"<@{user}>") for user in dict.fromkeys(people)]
        if _SLACK_ID.fullmatch(group or ""):
            stage.append(Recipient(GROUP, group, f"<!subteam^{group}>"))
        message = printable(str(inputs.get("message") or "")).strip()
        if not stage:
            return fail("Choose someone to call: people or a user group.")
        if is_blank(message) or len(message) > MESSAGE_MAX:
            return fail(f"The message must be 1 to {MESSAGE_MAX} characters long.")
        try:
            alert_id = alerts.request(
                requester=requester, sender_name="a Slack workflow", channel_name=None, message=message,
                recipients={"stages": [[r.__dict__ for r in stage]], "message": message, "language": None},
                request_id=f"step:{execution}"[:128])
        except Refused as refused:  # the requester's limit, as for the command
            record_refusal(source="slack", requester=requester, number=refused.number, kind=refused.kind,
                           reason=str(refused))
            return fail(rate_limit_text(str(refused), refused.frees_at, alerts.clock()))
        # Slack delivered the step again: it waits on the alert the first delivery raised.
        alert_id = alert_id if alert_id is not None else alerts.store.id_for_request(f"step:{execution}"[:128])
        if alert_id is not None:
            steps.record(execution, ALERT_STEP, str(alert_id), token, team)

    return run


def _code_step(services: BotServices, steps: WorkflowSteps, access: Access):
    def run(inputs: dict, body: dict, context, fail) -> None:
        execution, token, team = _execution(body, context)
        if _guarded(access):
            return fail(GUARDED)
        requester = _requester(inputs, team)
        number = str(inputs.get("phone_number") or "").strip()
        code = str(inputs.get("code") or "").strip()
        request = parse_voiceotp(f"{number} {code}".strip() if number else "")
        if isinstance(request, CommandError):
            return fail(request.problem)
        if not isinstance(request, OtpRequest):
            return fail("Give the phone number to call, with + and the country code.")
        try:
            placed = services.otp.request(order_of(request, {
                "user_id": requester.user_id, "channel_id": requester.channel_id, "team_id": team,
                "trigger_id": f"step:{execution}"[:128]}))
        except Refused as refused:
            return fail(str(refused))
        call = placed[1].token if placed is not None else services.otp.legs.token_for_request(f"step:{execution}"[:128])
        if call is not None:
            steps.record(execution, CALL_STEP, call, token, team)

    return run


class StepCompletion:
    """STEP_DONE work: a step's alert or call has ended, so the step completes with its outputs."""

    def __init__(self, steps: WorkflowSteps, alerts: AlertService, legs: LegStore, base_url: str):
        self.steps = steps
        self.alerts = alerts
        self.legs = legs
        self.base_url = base_url

    def register(self, registry: Registry) -> None:
        registry.add(STEP_DONE, self.complete, Policy(attempts=20, backoff=2.0, max_backoff=120.0))

    def complete(self, item: WorkItem) -> None:
        kind, subject = item.subject.split(":", 1)
        outputs = self._outputs(kind, subject)
        if outputs is None:
            return  # not over yet: a later change pokes again
        for step in self.steps.pending(kind, subject):
            if not step.token:
                log.warning("workflow step %s has no token to complete with", step.execution_id[:8])
                continue
            client = WebClient(token=step.token, base_url=self.base_url, timeout=10, retry_handlers=[])
            try:
                with slack_failures("functions.completeSuccess"):
                    client.functions_completeSuccess(function_execution_id=step.execution_id, outputs=outputs)
            except GiveUp as refused:
                # Slack will not take these outputs: the step fails, with what it said, rather than hang.
                log.warning("workflow step %s: %s", step.execution_id[:8], refused)
                with slack_failures("functions.completeError"):
                    client.functions_completeError(function_execution_id=step.execution_id,
                                                   error=f"The call ended but Slack refused its result ({refused}).")
            self.steps.completed(step.execution_id)

    def _outputs(self, kind: str, subject: str) -> dict | None:
        if kind == ALERT_STEP:
            alert = self.alerts.get(int(subject))
            if alert is None or alert.status not in _OVER:
                return None
            acknowledged = alert.status == ACKNOWLEDGED
            seconds = int((alert.resolved_at - alert.created_at).total_seconds()) if alert.resolved_at else 0
            outputs = {"acknowledged": acknowledged, "seconds": seconds, "outcome": "acknowledged" if acknowledged
                       else {CANCELLED: "cancelled", EXHAUSTED: "nobody acknowledged",
                             DROPPED: "nobody could be called"}.get(alert.status, alert.status)}
            if acknowledged and alert.resolved_by:
                outputs["acknowledged_by"] = alert.resolved_by  # a user ID, or left out (no empty user)
            return outputs
        leg = self.legs.get(subject)
        if leg is None or not leg.ended:
            return None
        return {"outcome": leg.outcome.value if leg.outcome else "failed", "code_read": leg.code_read_at is not None,
                "seconds": leg.duration or 0}
