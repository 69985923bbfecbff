// EV_Web's page: the live state of every charging point, from /events (server-sent events).
// Everything is built with textContent (never innerHTML): ids and locations are data.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
// each state's symbol, from the legend the server drew (web_app.board.LOOKS)
const SYMBOLS = Object.fromEntries(
  [...document.querySelectorAll(".legend li")].map((li) => [li.dataset.state, li.querySelector(".badge").textContent]),
);
const cps = new Map(); // cp_id -> public state
let streamUp = false;
let feed = { loaded: false, problem: null };

function price(value) {
  return value.toFixed(2) + " €/kWh";
}

function describe(cp) {
  const where = cp.location ? " (" + cp.location + ")" : "";
  return cp.cp_id + where + ": " + cp.label + ", " + price(cp.price);
}

// an HTML element of one class, holding the given children
function element(tag, className, ...children) {
  const node = document.createElement(tag);
  node.className = className;
  node.append(...children);
  return node;
}

function listItem(cp) {
  let li = document.getElementById("cp-" + cp.cp_id);
  if (!li) {
    li = document.createElement("li");
    li.id = "cp-" + cp.cp_id;
    const badge = element("span", "badge");
    badge.setAttribute("aria-hidden", "true");
    const where = element("div", "where", element("span", "id"), element("span", "loc"));
    const what = element("div", "what", element("span", "state"), element("span", "price"));
    li.append(badge, where, what);
  }
  li.className = "cp state-" + cp.state;
  li.dataset.state = cp.state;
  li.querySelector(".badge").textContent = SYMBOLS[cp.state] || "?";
  li.querySelector(".id").textContent = cp.cp_id;
  li.querySelector(".loc").textContent = cp.location;
  li.querySelector(".state").textContent = cp.label;
  li.querySelector(".price").textContent = price(cp.price);
  return li;
}

function marker(cp) {
  const group = document.getElementById("cps");
  let g = document.getElementById("marker-" + cp.cp_id);
  if (cp.x === null || cp.y === null) {
    if (g) g.remove();
    return;
  }
  if (!g) {
    g = document.createElementNS(SVG, "g");
    g.id = "marker-" + cp.cp_id;
    const title = document.createElementNS(SVG, "title");
    const circle = document.createElementNS(SVG, "circle");
    circle.setAttribute("r", "15");
    const sym = document.createElementNS(SVG, "text");
    sym.setAttribute("class", "sym");
    const tag = document.createElementNS(SVG, "text");
    tag.setAttribute("class", "tag");
    tag.setAttribute("y", "-26");
    g.append(title, circle, sym, tag);
    group.append(g);
  }
  g.setAttribute("class", "marker state-" + cp.state);
  g.setAttribute("transform", "translate(" + cp.x + " " + cp.y + ")");
  g.dataset.state = cp.state;
  g.querySelector("title").textContent = describe(cp);
  g.querySelector(".sym").textContent = SYMBOLS[cp.state] || "?";
  g.querySelector(".tag").textContent = cp.cp_id;
}

function render(cp) {
  cps.set(cp.cp_id, cp);
  const list = document.getElementById("cp-list");
  const li = listItem(cp);
  if (!li.parentNode) {
    const after = [...list.children].find((other) => other.id.slice(3) > cp.cp_id);
    list.insertBefore(li, after || null);
  }
  marker(cp);
  summarize();
}

function summarize() {
  const free = [...cps.values()].filter((cp) => cp.state === "available").length;
  document.getElementById("summary").textContent =
    cps.size ? "· " + free + " of " + cps.size + " available" : "";
}

function showStatus() {
  const el = document.getElementById("status");
  let text, kind;
  if (!streamUp) {
    [text, kind] = ["Reconnecting…", "connecting"];
  } else if (feed.problem) {
    [text, kind] = [feed.problem, "problem"];
  } else if (!feed.loaded) {
    [text, kind] = ["Loading…", "connecting"];
  } else {
    [text, kind] = ["Live", "live"];
  }
  el.textContent = text;
  el.className = "status " + kind;
}

function connect() {
  const source = new EventSource("/events");
  source.addEventListener("open", () => { streamUp = true; showStatus(); });
  source.addEventListener("error", () => { streamUp = false; showStatus(); });
  source.addEventListener("status", (e) => { feed = JSON.parse(e.data); showStatus(); });
  source.addEventListener("snapshot", (e) => {
    const seen = new Set();
    for (const cp of JSON.parse(e.data)) { render(cp); seen.add(cp.cp_id); }
    for (const id of [...cps.keys()]) {
      if (!seen.has(id)) {
        cps.delete(id);
        document.getElementById("cp-" + id)?.remove();
        document.getElementById("marker-" + id)?.remove();
      }
    }
    summarize();
  });
  source.addEventListener("cp", (e) => render(JSON.parse(e.data)));
}

connect();
