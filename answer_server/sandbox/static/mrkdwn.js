// Slack's mrkdwn and Block Kit, rendered to HTML. Pure functions: text in, HTML out.
// Text is HTML-escaped before any formatting is applied, so nothing a message says can become markup.
"use strict";

const EMOJI = {
  white_check_mark: "✅", x: "❌", telephone_receiver: "📞", no_entry_sign: "🚫", warning: "⚠️",
  heavy_multiplication_x: "✖️", hourglass_flowing_sand: "⏳", bell: "🔔", rotating_light: "🚨",
  heavy_minus_sign: "➖", hourglass: "⌛", lock: "🔒", no_entry: "⛔", vhs: "📼", no_bell: "🔕",
  double_vertical_bar: "⏸️", grey_question: "❔", mailbox_with_mail: "📬", speaking_head_in_silhouette: "🗣️",
  phone: "☎️", iphone: "📱", speech_balloon: "💬", bow: "🙇", wave: "👋", tada: "🎉",
  large_green_circle: "🟢", zap: "⚡", pager: "📟", calendar: "📆", wastebasket: "🗑️", information_source: "ℹ️",
  telephone: "☎️", mailbox: "📫", mailbox_with_no_mail: "📭", memo: "📝",  // a hotline call's message
};

// Slack's date tokens (its docs: "Formatting message text", date formatting), shown in the reader's own
// time zone; a format with another token shows the fallback. (No URL here: the page names no other host.)
const DATE_TOKENS = {
  time: (d) => d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }),
  time_secs: (d) => d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" }),
  date_num: (d) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`,
  date_short: (d) => d.toLocaleDateString([], { month: "short", day: "numeric", year: "numeric" }),
  // "today", "tomorrow" or "yesterday" where one of them is meant, else as date_short.
  date_short_pretty: (d) => nearDay(d) || DATE_TOKENS.date_short(d),
};

function nearDay(d) {
  const day = (t) => new Date(t.getFullYear(), t.getMonth(), t.getDate()).getTime();
  const apart = Math.round((day(d) - day(new Date())) / 86400000);
  return { "-1": "yesterday", 0: "today", 1: "tomorrow" }[apart];
}

function formatDate(target, label) {
  const [, epoch, format] = target.split("^");  // !date^<epoch>^<format>[^<link>]
  const when = new Date(Number(epoch) * 1000);
  if (!format || Number.isNaN(when.getTime())) return escapeHtml(decodeSlack(label));
  let known = true;
  const text = format.replace(/\{(\w+)\}/g, (all, name) => (DATE_TOKENS[name] ? DATE_TOKENS[name](when) : (known = false, all)));
  return escapeHtml(decodeSlack(known ? text : label));
}

function escapeHtml(s) {
  return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

// Slack sends &, < and > as entities; undo that before escaping for HTML.
function decodeSlack(s) {
  return String(s).replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

function formatPlain(s) {
  let html = escapeHtml(decodeSlack(s));
  html = html.replace(/`([^`\n]+)`/g, "<code>$1</code>");
  html = html.replace(/(^|[\s(])\*([^*\n]+)\*(?=$|[\s).,!?:;])/g, "$1<b>$2</b>");
  html = html.replace(/(^|[\s(])_([^_\n]+)_(?=$|[\s).,!?:;])/g, "$1<i>$2</i>");
  html = html.replace(/(^|[\s(])~([^~\n]+)~(?=$|[\s).,!?:;])/g, "$1<s>$2</s>");
  html = html.replace(/:([a-z0-9_+-]+):/g, (all, name) => EMOJI[name] || all);
  // A line starting with ">" is a quote, as in Slack (the ">" arrives escaped).
  html = html.replace(/(^|\n)&gt;\s?([^\n]*)/g, '$1<span class="quote">$2</span>');
  return html.replace(/\n/g, "<br>");
}

function formatToken(inner, dir) {
  const bar = inner.indexOf("|");
  const target = bar < 0 ? inner : inner.slice(0, bar);
  const label = bar < 0 ? "" : inner.slice(bar + 1);
  const mention = (text) => `<span class="mention">${escapeHtml(text)}</span>`;
  if (target.startsWith("@")) return mention("@" + (dir.users[target.slice(1)] || label || target.slice(1)));
  if (target.startsWith("#")) return mention("#" + (label || dir.channels[target.slice(1)] || target.slice(1)));
  if (target.startsWith("!date^")) return formatDate(target, label);
  if (target.startsWith("!subteam^")) return mention(label || "@" + (dir.groups[target.slice(9)] || "group"));
  if (target.startsWith("!")) return mention("@" + target.slice(1));
  if (/^https?:\/\//.test(target)) {
    return `<a href="${escapeHtml(target)}" target="_blank" rel="noopener">${escapeHtml(label || target)}</a>`;
  }
  return escapeHtml(decodeSlack(label || target));
}

function mrkdwn(text, dir) {
  const out = [];
  const re = /<([^<>\n]+)>/g;
  let last = 0, match;
  while ((match = re.exec(text)) !== null) {
    out.push(formatPlain(text.slice(last, match.index)), formatToken(match[1], dir));
    last = re.lastIndex;
  }
  out.push(formatPlain(text.slice(last)));
  return out.join("");
}

function textObject(obj, dir) {
  if (!obj) return "";
  return obj.type === "mrkdwn" ? mrkdwn(obj.text || "", dir) : escapeHtml(obj.text || "");
}

function buttonHtml(button, block, message) {
  const style = button.style ? ` class="${escapeHtml(button.style)}"` : "";
  const confirm = button.confirm ? ` data-confirm="${escapeHtml(JSON.stringify(button.confirm))}"` : "";
  return `<button type="button"${style}${confirm} data-action-id="${escapeHtml(button.action_id || "")}"` +
    ` data-channel="${escapeHtml(message.channel)}" data-ts="${escapeHtml(message.ts)}">` +
    `${escapeHtml((button.text || {}).text || "Button")}</button>`;
}

function blockHtml(block, message, dir) {
  switch (block.type) {
    case "section": {
      let html = `<div class="block section">${textObject(block.text, dir)}`;
      for (const field of block.fields || []) html += `<div>${textObject(field, dir)}</div>`;
      if (block.accessory && block.accessory.type === "button") {
        html += `<div class="block-actions">${buttonHtml(block.accessory, block, message)}</div>`;
      }
      return html + "</div>";
    }
    case "header": return `<div class="block"><b>${textObject(block.text, dir)}</b></div>`;
    case "divider": return '<hr class="divider">';
    case "context":
      return `<div class="block context">${(block.elements || []).map((e) =>
        e.type === "image" ? escapeHtml(e.alt_text || "") : textObject(e, dir)).join(" ")}</div>`;
    case "actions":
      return `<div class="block block-actions">${(block.elements || []).filter((e) => e.type === "button")
        .map((e) => buttonHtml(e, block, message)).join("")}</div>`;
    default: return null;
  }
}

// A message's body: its blocks when it has any we can show, else its text.
function messageBody(message, dir) {
  const parts = (message.blocks || []).map((b) => blockHtml(b, message, dir)).filter((h) => h !== null);
  return parts.length ? parts.join("") : `<div class="block">${mrkdwn(message.text || "", dir)}</div>`;
}

if (typeof module !== "undefined") module.exports = { mrkdwn, messageBody, escapeHtml };
