// Switchboard console, Usage of the selected app over the last 30 days (UTC), from the admin API
// (`GET /api/realtime/apps/{app}/usage`). A plain ES module beside console.js: it reads the same tab-only token,
// follows the app selected in the Apps list and refreshes every 10 s. The chart is an inline SVG built with DOM calls;
// server text is written with textContent, never parsed as HTML.

import { call } from "./admin-api.js";

const SVG = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);
const number = new Intl.NumberFormat("en");

let app = null;

function selectedApp() {
  const button = document.querySelector('.app-select[aria-current="true"]');
  return button ? button.dataset.app : null;
}

function fetchUsage(id) {
  return call("GET", `/api/realtime/apps/${encodeURIComponent(id)}/usage`);
}

function svg(name, attributes, text) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

// One bar per day (messages in), a line at the day's share of the monthly limit when there is one, and dates below.
function chart(days, limit) {
  const width = 720, height = 200, left = 48, bottom = 24, top = 12;
  const plotWidth = width - left - 8, plotHeight = height - top - bottom;
  const highest = Math.max(1, ...days.map((day) => day.messagesInTotal));
  const scale = niceCeiling(highest);
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-labelledby": "usage-chart-title", class: "usage-chart" });
  root.append(svg("title", { id: "usage-chart-title" }, `Messages in per day, ${days[0].date} to ${days[days.length - 1].date}`));
  for (const fraction of [0, 0.5, 1]) {
    const y = top + plotHeight * (1 - fraction);
    root.append(svg("line", { x1: left, x2: width - 8, y1: y, y2: y, class: "usage-grid" }));
    root.append(svg("text", { x: left - 6, y: y + 4, class: "usage-axis", "text-anchor": "end" }, number.format(Math.round(scale * fraction))));
  }
  const slot = plotWidth / days.length;
  days.forEach((day, index) => {
    const barHeight = (day.messagesInTotal / scale) * plotHeight;
    const bar = svg("rect", {
      x: (left + index * slot + slot * 0.15).toFixed(1),
      y: (top + plotHeight - barHeight).toFixed(1),
      width: (slot * 0.7).toFixed(1),
      height: Math.max(0, barHeight).toFixed(1),
      class: "usage-bar",
      "data-date": day.date,
      "data-messages": day.messagesInTotal,
    });
    bar.append(svg("title", {}, `${day.date}: ${number.format(day.messagesInTotal)} messages in, ${number.format(day.deliveries)} delivered`));
    root.append(bar);
    if ((index % 7 === 0 && index < days.length - 3) || index === days.length - 1) {
      root.append(svg("text", { x: left + index * slot + slot / 2, y: height - 6, class: "usage-axis", "text-anchor": "middle" }, day.date.slice(5)));
    }
  });
  if (limit) $("usage-chart-note").textContent = `Monthly limit ${number.format(limit)} messages (the bars are per day).`;
  else $("usage-chart-note").textContent = "No monthly limit on this plan.";
  return root;
}

function niceCeiling(value) {
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

function show(body) {
  const month = body.month;
  const used = month.limit ? ` of ${number.format(month.limit)} (${Math.min(999, Math.round((month.messages / month.limit) * 100))}%)` : " (no limit)";
  $("usage-month").textContent = `${number.format(month.messages)}${used}`;
  $("usage-month").classList.toggle("error", Boolean(month.limit) && month.messages >= month.limit);
  $("usage-period").textContent = `${body.from} to ${body.to}`;
  const totals = body.totals;
  const protocols = Object.entries(totals.messagesIn).map(([name, count]) => `${name} ${number.format(count)}`).join(", ");
  $("usage-in").textContent = `${number.format(totals.messagesInTotal)}${protocols ? ` (${protocols})` : ""}`;
  $("usage-out").textContent = number.format(totals.deliveries);
  $("usage-peak").textContent = number.format(totals.peakConnections);
  $("usage-chart").replaceChildren(chart(body.days, month.limit));
}

async function load() {
  app = selectedApp();
  if (!app || $("console").hidden) return;
  try {
    const body = await fetchUsage(app);
    if (body && body.app === selectedApp()) {
      show(body);
      $("usage-status").textContent = "";
    }
  } catch (error) {
    $("usage-status").textContent = `Usage not loaded: ${error.message}`;
  }
}

function start() {
  new MutationObserver(() => { if (selectedApp() !== app) load(); })
    .observe($("apps-list"), { subtree: true, attributes: true, attributeFilter: ["aria-current"], childList: true });
  new MutationObserver(() => load()).observe($("console"), { attributes: true, attributeFilter: ["hidden"] });
  setInterval(load, 10000);
  load();
}

start();
