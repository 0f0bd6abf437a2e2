// The sandbox console: renders the state the server streams, and sends what the person does.
"use strict";

const $ = (id) => document.getElementById(id);
const view = { channel: "C0SANDBOX", state: null, phones: new Map() };
const EXAMPLES = ["/voiceotp +14155550123", "/voiceotp check +14155550123 ", "/voiceotp +14155550123 483920",
  "/voiceotp +34 612 34 56 78 lang=es", "/voiceotp +14155550001 1234", "/voiceotp +14155550004 2468",
  "/voiceotp help", "/voicealert @alice The database is down", "/voicealert @alice > @bob Disk full on db-1",
  "/voicealert @oncall, +14155550004 Checkout is failing"];

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
  renderMessages(state);
  renderPhones(state);
}

function renderChannels(state) {
  const nav = $("channels");
  nav.innerHTML = state.channels.map((c) =>
    `<button type="button" data-channel="${c.id}" class="${c.id === view.channel ? "current" : ""}">` +
    `${c.is_private ? "🔒 " : "#"}${escapeHtml(c.name)}</button>`).join("");
  const current = state.channels.find((c) => c.id === view.channel);
  $("channel-hint").textContent = current && !current.bot_is_member
    ? "the bot is not a member here: it answers through the command's response_url" : "";
}

function renderMessages(state) {
  const list = $("messages");
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  const dir = directory(state);
  list.innerHTML = state.messages.filter((m) => m.channel === view.channel).map((m) => {
    const who = m.user === "U0VOICEBOT" ? "bot" : m.user === "USLACKBOT" ? "slackbot" : "user";
    const name = state.users[m.user] || m.user;
    const time = new Date(parseFloat(m.ts) * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    return `<li class="message${m.ephemeral ? " ephemeral" : ""}" data-ts="${m.ts}">` +
      `<div class="avatar ${who}">${escapeHtml(name[0].toUpperCase())}</div><div>` +
      (m.ephemeral ? '<div class="ephemeral-label">👁 Only visible to you</div>' : "") +
      `<div class="meta"><b>${escapeHtml(name === "voicebridge" ? "VoiceBridge" : name)}</b>` +
      `${who === "bot" ? '<span class="app-tag">APP</span>' : ""}${time}</div>` +
      `<div class="body">${messageBody(m, dir)}</div>` +
      (m.edited ? '<span class="edited">(edited)</span>' : "") + "</div></li>";
  }).join("");
  if (atBottom) list.scrollTop = list.scrollHeight;
}

function phonePanel(call) {
  const panel = document.createElement("article");
  panel.className = "phone";
  panel.dataset.call = call.call_uuid;
  const keys = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "0", "#"];
  panel.innerHTML =
    `<div class="phone-head"><span class="phone-number">📱 ${escapeHtml(call.to)}</span><span class="state"></span></div>` +
    `<div class="test-number">${escapeHtml(call.test_number)}</div>` +
    '<ol class="transcript" aria-live="polite"></ol>' +
    '<div class="phone-controls"><div class="keypad">' +
    keys.map((k) => `<button type="button" data-key="${k}" aria-label="key ${k}">${k}</button>`).join("") +
    '</div><div class="side"><button type="button" class="hangup">Hang up</button>' +
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
  return { panel, shown: 0 };
}

function stateLabel(call) {
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
      box.insertBefore(phone.panel, box.firstChild);
    }
    const label = phone.panel.querySelector(".state");
    label.textContent = stateLabel(call);
    label.className = `state ${call.state}`;
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
    if (channel && view.state) { view.channel = channel; render(view.state); }
  });
  $("messages").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action-id]");
    if (!button) return;
    if (button.dataset.confirm) {
      const c = JSON.parse(button.dataset.confirm);
      const question = [(c.title || {}).text, (c.text || {}).text].filter(Boolean).join("\n\n");
      if (!window.confirm(question || "Are you sure?")) return;
    }
    post("/sandbox/api/actions", { channel: button.dataset.channel, ts: button.dataset.ts, action_id: button.dataset.actionId });
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
