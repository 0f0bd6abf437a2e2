// The sandbox console: renders the state the server streams, and sends what the person does.
"use strict";

const $ = (id) => document.getElementById(id);
const view = { channel: "C0SANDBOX", state: null, phones: new Map(), modalId: null, errors: {} };
const HOME = "HOME";  // the app's Home tab, shown where a channel's messages are
const DMS = "DMS";  // the app's direct messages to each person (hand-off notices), shown together
const EXAMPLES = ["/voiceotp +14155550123", "/voiceotp check +14155550123 ", "/voiceotp +14155550123 483920",
  "/voiceotp +34 612 34 56 78 lang=es", "/voiceotp +14155550001 1234", "/voiceotp +14155550004 2468",
  "/voiceotp help", "/voicealert @alice The database is down", "/voicealert @alice > @bob Disk full on db-1",
  "/voicealert @oncall, +14155550004 Checkout is failing", "/voicealert",
  "/oncall", "/oncall sandbox-oncall", "/oncall cover sandbox-oncall until 18:00",
  "/voicealert schedule:sandbox-oncall Checkout is failing"];

async function post(path, body) {
  const response = await fetch(path, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body || {}),
  });
  return response.json().catch(() => ({}));
}

function directory(state) {
  const channels = {};
  for (const c of state.channels) channels[c.id] = c.name;
  return { users: state.users, groups: state.groups, channels };
}

function render(state) {
  view.state = state;
  renderChannels(state);
  if (view.channel === HOME) renderHome(state); else renderMessages(state);
  renderPhones(state);
  renderModal(state);
  renderMonitoring(state);
  renderHotline(state);
  renderOncall(state);
}

// The built-in hotline: its number, and the caller's number to phone it from (kept once the person edits it).
function renderHotline(state) {
  const line = state.hotline;
  $("hotline-name").textContent = line.name;
  $("hotline-number").textContent = `(${line.number})`;
  if (!$("hotline-from").value && !view.fromEdited) $("hotline-from").value = line.caller;
}

// sandbox-oncall as it stands, e.g. "@alice until 10:26, then @bob · @sandbox-oncall = @alice".
function renderOncall(state) {
  const oncall = state.oncall, line = $("oncall-now");
  if (!oncall) { line.textContent = ""; return; }
  const name = (user) => user ? `@${state.users[user] || user}` : "nobody";
  const until = oncall.until
    ? ` until ${new Date(oncall.until).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}, then ${name(oncall.next)}`
    : "";
  const group = `@${state.groups[oncall.group] || oncall.group}`;
  const members = oncall.members.map(name).join(", ") || "nobody";
  line.textContent = `${name(oncall.on_call)}${oncall.override ? " (override)" : ""}${until} · ${group} = ${members}`;
}

// What the app answered the console's Alertmanager, e.g. "resolved → 202: resolved (incident 3)".
function renderMonitoring(state) {
  const demo = state.monitoring;
  $("resolve-alert").disabled = !demo.firing;
  const last = demo.last, line = $("monitoring-answer");
  line.classList.toggle("refused", !!last && !last.ok);
  if (!last) { line.textContent = ""; return; }
  if (!last.status) { line.textContent = `${last.sent}: ${last.error}`; return; }
  const answer = last.answer || {};
  const what = answer.outcome ? `${answer.outcome}${answer.incident ? ` (incident ${answer.incident})` : ""}`
    : answer.error || JSON.stringify(answer);
  line.textContent = `${last.sent} → POST ${demo.route}: ${last.status}, ${what}`;
}

function renderChannels(state) {
  const nav = $("channels");
  nav.innerHTML = state.channels.map((c) =>
    `<button type="button" data-channel="${c.id}" class="${c.id === view.channel ? "current" : ""}">` +
    `${c.is_private ? "🔒 " : "#"}${escapeHtml(c.name)}</button>`).join("") +
    `<button type="button" data-channel="${HOME}" class="${view.channel === HOME ? "current" : ""}">🏠 VoiceBridge Home</button>` +
    `<button type="button" data-channel="${DMS}" class="${view.channel === DMS ? "current" : ""}">✉ Direct messages</button>`;
  const current = state.channels.find((c) => c.id === view.channel);
  $("channel-hint").textContent = current && !current.bot_is_member
    ? "the bot is not a member here: it answers through the command's response_url"
    : view.channel === DMS ? "the app's messages to each person" : "";
}

function renderMessages(state) {
  const list = $("messages");
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  const dir = directory(state);
  const dms = view.channel === DMS;
  list.innerHTML = state.messages.filter((m) => dms ? m.channel in state.direct : m.channel === view.channel).map((m) => {
    const who = m.user === "U0VOICEBOT" ? "bot" : m.user === "USLACKBOT" ? "slackbot" : "user";
    const name = state.users[m.user] || m.user;
    const to = dms ? `<span class="dm-to">to @${escapeHtml(state.users[state.direct[m.channel]] || "")}</span>` : "";
    const time = new Date(parseFloat(m.ts) * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    return `<li class="message${m.ephemeral ? " ephemeral" : ""}" data-ts="${m.ts}">` +
      `<div class="avatar ${who}">${escapeHtml(name[0].toUpperCase())}</div><div>` +
      (m.ephemeral ? '<div class="ephemeral-label">👁 Only visible to you</div>' : "") +
      `<div class="meta"><b>${escapeHtml(name === "voicebridge" ? "VoiceBridge" : name)}</b>` +
      `${who === "bot" ? '<span class="app-tag">APP</span>' : ""}${to}${time}</div>` +
      `<div class="body">${messageBody(m, dir)}</div>` +
      (m.edited ? '<span class="edited">(edited)</span>' : "") +
      (m.ephemeral || dms ? "" : `<button type="button" class="shortcut" data-shortcut-ts="${m.ts}" ` +
        'title="Message shortcut">⋯ Phone someone about this</button>') + "</div></li>";
  }).join("");
  if (atBottom) list.scrollTop = list.scrollHeight;
}

function renderHome(state) {
  const list = $("messages");
  const home = state.home;
  list.innerHTML = home
    ? `<li class="message home"><div></div><div class="body">${messageBody({ channel: HOME, ts: "home", blocks: home.blocks }, directory(state))}</div></li>`
    : '<li class="message home"><div></div><div class="body">Opening the Home tab…</div></li>';
}

// A modal's input, as Slack draws it; its value read back in Slack's state.values shape.
function inputHtml(block, state) {
  const e = block.element || {};
  const id = escapeHtml(block.block_id);
  const label = `<label class="field-label">${escapeHtml((block.label || {}).text || "")}` +
    `${block.optional ? ' <span class="optional">(optional)</span>' : ""}</label>`;
  let control = "";
  if (e.type === "multi_users_select") {
    control = Object.entries(state.users).filter(([uid]) => uid !== "U0VOICEBOT" && uid !== "USLACKBOT")
      .map(([uid, name]) => `<label class="choice"><input type="checkbox" name="${id}" value="${uid}"> @${escapeHtml(name)}</label>`).join("");
  } else if (e.type === "multi_static_select") {
    control = (e.options || []).map((o) =>
      `<label class="choice"><input type="checkbox" name="${id}" value="${escapeHtml(o.value)}"> ${escapeHtml(o.text.text)}</label>`).join("");
  } else if (e.type === "radio_buttons") {
    const initial = (e.initial_option || {}).value;
    control = (e.options || []).map((o) =>
      `<label class="choice"><input type="radio" name="${id}" value="${escapeHtml(o.value)}"${o.value === initial ? " checked" : ""}> ${escapeHtml(o.text.text)}</label>`).join("");
  } else if (e.type === "plain_text_input") {
    const value = escapeHtml(e.initial_value || "");
    const limit = e.max_length ? ` maxlength="${e.max_length}"` : "";
    control = e.multiline ? `<textarea name="${id}" rows="4"${limit}>${value}</textarea>`
      : `<input name="${id}" value="${value}"${limit} placeholder="${escapeHtml((e.placeholder || {}).text || "")}">`;
  } else {
    control = `<em>${escapeHtml(e.type || "?")} is not simulated</em>`;
  }
  const hint = block.hint ? `<div class="hint">${escapeHtml(block.hint.text)}</div>` : "";
  const error = view.errors[block.block_id] ? `<div class="field-error">${escapeHtml(view.errors[block.block_id])}</div>` : "";
  return `<div class="field" data-block="${id}" data-type="${escapeHtml(e.type || "")}">${label}${control}${hint}${error}</div>`;
}

function renderModal(state) {
  let box = $("modal");
  const modal = state.modal;
  if (!modal) { if (box) box.remove(); view.modalId = null; return; }
  const drawn = JSON.stringify(modal.blocks);
  // The same form as drawn: keep it (and what the person typed); a views.update redraws it, values kept.
  if (box && view.modalId === modal.id && view.modalDrawn === drawn && !view.redraw) return;
  view.redraw = false;
  view.modalDrawn = drawn;
  const kept = box ? readValues(box) : null;
  if (box) box.remove();
  view.modalId = modal.id;
  box = document.createElement("div");
  box.id = "modal";
  box.className = "modal-backdrop";
  const blocks = modal.blocks.map((b) => b.type === "input" ? inputHtml(b, state)
    : (blockHtml(b, { channel: "modal", ts: "modal" }, directory(state)) || "")).join("");
  box.innerHTML = `<form class="modal" role="dialog" aria-label="${escapeHtml(modal.title.text)}">` +
    `<h3>${escapeHtml(modal.title.text)}</h3>${blocks}<div class="modal-problem"></div>` +
    `<div class="modal-buttons"><button type="button" class="cancel">${escapeHtml((modal.close || { text: "Cancel" }).text)}</button>` +
    `<button type="submit" class="primary">${escapeHtml((modal.submit || { text: "Submit" }).text)}</button></div></form>`;
  document.body.appendChild(box);
  if (kept) restoreValues(box, kept);
  box.querySelector(".cancel").addEventListener("click", () => { view.errors = {}; post("/sandbox/api/view/close"); });
  box.querySelector("form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const answer = await post("/sandbox/api/view/submit", { values: readValues(box) });
    view.errors = answer.errors || {};
    if (Object.keys(view.errors).length || answer.problem) {
      view.redraw = true;
      renderModal(view.state);
      $("modal").querySelector(".modal-problem").textContent = answer.problem || "";
    }
  });
}

function readValues(box) {
  const values = {};
  for (const field of box.querySelectorAll(".field")) {
    const block = field.dataset.block, type = field.dataset.type;
    const checked = [...field.querySelectorAll("input:checked")].map((i) => i.value);
    let value;
    if (type === "multi_users_select") value = { type, selected_users: checked };
    else if (type === "multi_static_select") value = { type, selected_options: checked.map((v) => ({ value: v, text: { type: "plain_text", text: v } })) };
    else if (type === "radio_buttons") value = { type, selected_option: checked.length ? { value: checked[0], text: { type: "plain_text", text: checked[0] } } : null };
    else { const input = field.querySelector("input, textarea"); value = { type, value: input && input.value ? input.value : null }; }
    values[block] = { value };
  }
  return values;
}

function restoreValues(box, values) {
  for (const field of box.querySelectorAll(".field")) {
    const value = (values[field.dataset.block] || {}).value || {};
    const chosen = new Set([...(value.selected_users || []), ...((value.selected_options || []).map((o) => o.value)),
      ...(value.selected_option ? [value.selected_option.value] : [])]);
    for (const input of field.querySelectorAll("input[type=checkbox], input[type=radio]")) input.checked = chosen.has(input.value);
    const text = field.querySelector("input:not([type]), textarea");
    if (text && value.value !== undefined) text.value = value.value || "";
  }
}

function phonePanel(call) {
  const panel = document.createElement("article");
  const inbound = call.direction === "inbound";  // the caller's own phone, phoning a hotline
  panel.className = inbound ? "phone inbound" : "phone";
  panel.dataset.call = call.call_uuid;
  const keys = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "0", "#"];
  const head = inbound ? `📞 ${escapeHtml(call.from)} → ☎️ ${escapeHtml(call.to)}` : `📱 ${escapeHtml(call.to)}`;
  const about = inbound ? "you are the caller: you hear what the hotline plays" : call.test_number;
  panel.innerHTML =
    `<div class="phone-head"><span class="phone-number">${head}</span><span class="state"></span></div>` +
    `<div class="test-number">${escapeHtml(about)}</div>` +
    '<ol class="transcript" aria-live="polite"></ol>' +
    '<div class="phone-controls"><div class="keypad">' +
    keys.map((k) => `<button type="button" data-key="${k}" aria-label="key ${k}">${k}</button>`).join("") +
    '</div><div class="side"><button type="button" class="hangup">Hang up</button>' +
    (inbound ? '<button type="button" class="say" disabled title="Say a message into the recording">🎙 Leave a message</button>' : "") +
    '<label><input type="checkbox" class="speak-aloud"> speak aloud</label></div></div>';
  if (!("speechSynthesis" in window)) {
    const box = panel.querySelector(".speak-aloud");
    box.disabled = true;
    box.parentElement.title = "this browser has no speech synthesis";
  }
  panel.querySelector(".keypad").addEventListener("click", (event) => {
    const key = event.target.dataset.key;
    if (key) post(`/sandbox/api/calls/${call.call_uuid}/digits`, { digits: key });
  });
  panel.querySelector(".hangup").addEventListener("click", () => post(`/sandbox/api/calls/${call.call_uuid}/hangup`));
  if (inbound) panel.querySelector(".say").addEventListener("click", () => post(`/sandbox/api/calls/${call.call_uuid}/message`));
  return { panel, shown: 0 };
}

function stateLabel(call) {
  const room = call.conference;
  if (call.state === "answered" && room && room.started && room.with.length) return `connected · with ${room.with.join(", ")}`;
  if (call.state === "answered" && room && !room.started) return "waiting in the conference room";
  if (call.state === "answered" && call.recording) return "recording · speak, then #";
  if (call.state !== "ended") return call.state === "answered" && call.listening ? "answered · waiting for a key" : call.state;
  const e = call.ending;
  const length = call.duration ? `, ${call.duration} s` : "";
  return `ended: ${e.status} · ${e.name} (${e.code})${length}`;
}

function renderPhones(state) {
  const box = $("phones");
  $("no-calls").hidden = state.calls.length > 0;
  for (const call of state.calls) {
    let phone = view.phones.get(call.call_uuid);
    if (!phone) {
      phone = phonePanel(call);
      view.phones.set(call.call_uuid, phone);
      // The caller's own phone stays under "Call the hotline", above the phones its call makes ring.
      const list = call.direction === "inbound" ? $("caller-phones") : box;
      list.insertBefore(phone.panel, list.firstChild);
    }
    const label = phone.panel.querySelector(".state");
    label.textContent = stateLabel(call);
    const room = call.conference;
    label.className = `state ${call.state}${room ? (room.started && room.with.length ? " connected" : room.started ? "" : " waiting") : ""}`;
    const say = phone.panel.querySelector(".say");
    if (say) say.disabled = !call.recording;
    phone.panel.querySelector(".keypad").classList.toggle("listening", call.listening);
    for (const button of phone.panel.querySelectorAll(".keypad button")) button.disabled = call.state !== "answered";
    phone.panel.querySelector(".hangup").disabled = call.state === "ended";
    appendTranscript(phone, call);
  }
}

function appendTranscript(phone, call) {
  const list = phone.panel.querySelector(".transcript");
  const aloud = phone.panel.querySelector(".speak-aloud").checked;
  for (const line of call.transcript.slice(phone.shown)) {
    const item = document.createElement("li");
    item.className = line.kind;
    item.textContent = line.text;
    list.appendChild(item);
    if (aloud && line.kind === "speak") window.speechSynthesis.speak(new SpeechSynthesisUtterance(line.text));
  }
  phone.shown = call.transcript.length;
  list.scrollTop = list.scrollHeight;
}

function wire() {
  $("composer").addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = $("composer-input");
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    await post("/sandbox/api/command", { text, channel: view.channel });
  });
  $("channels").addEventListener("click", (event) => {
    const channel = event.target.closest("button")?.dataset.channel;
    if (channel && view.state) {
      view.channel = channel;
      if (channel === HOME) post("/sandbox/api/home");  // Slack sends app_home_opened
      render(view.state);
    }
  });
  $("messages").addEventListener("click", (event) => {
    const shortcut = event.target.closest("button[data-shortcut-ts]");
    if (shortcut) { post("/sandbox/api/shortcut", { channel: view.channel, ts: shortcut.dataset.shortcutTs }); return; }
    const button = event.target.closest("button[data-action-id]");
    if (!button) return;
    if (view.channel === HOME) { post("/sandbox/api/home/actions", { action_id: button.dataset.actionId }); return; }
    if (button.dataset.confirm) {
      const c = JSON.parse(button.dataset.confirm);
      const question = [(c.title || {}).text, (c.text || {}).text].filter(Boolean).join("\n\n");
      if (!window.confirm(question || "Are you sure?")) return;
    }
    post("/sandbox/api/actions", { channel: button.dataset.channel, ts: button.dataset.ts, action_id: button.dataset.actionId });
  });
  const showChannel = (channel) => { view.channel = channel; if (view.state) render(view.state); };
  $("send-alert").addEventListener("click", () => {
    showChannel(view.state ? view.state.monitoring.channel : "C0SANDBOX");  // where its message appears
    post("/sandbox/api/monitoring/alert");
  });
  $("resolve-alert").addEventListener("click", () => post("/sandbox/api/monitoring/resolve"));
  $("hotline-from").addEventListener("input", () => { view.fromEdited = true; });
  $("call-hotline").addEventListener("click", async () => {
    showChannel(view.state ? view.state.hotline.channel : "C0SANDBOX");  // where its message appears
    const answer = await post("/sandbox/api/hotline/call", { from: $("hotline-from").value.trim() });
    $("hotline-answer").textContent = answer.ok ? "" : (answer.error || "the call could not be placed");
  });
  $("examples").innerHTML = EXAMPLES.map((e) => `<button type="button">${escapeHtml(e)}</button>`).join("");
  $("examples").addEventListener("click", (event) => {
    if (event.target.tagName === "BUTTON") { $("composer-input").value = event.target.textContent; $("composer-input").focus(); }
  });
}

function connect() {
  // EventSource reconnects by itself when the server ends a stream (every ~20 s) or restarts.
  const events = new EventSource("/sandbox/api/events");
  events.addEventListener("state", (event) => render(JSON.parse(event.data)));
}

wire();
fetch("/sandbox/api/state").then((r) => r.json()).then(render);
connect();
