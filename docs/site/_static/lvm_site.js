// Draws every lvmlib slider app of a site page with the module JupyterLab runs (slider_canvas.js),
// from the app's stored state: three files _static/apps/HASH.bin (the spec's JSON and the states, each
// zlib-packed, and the background PNGs), named in the slot's data-spec, data-frames and data-bg; what the
// editions or apps share is one file.  No kernel: every recorded position works.
// An app's files are fetched when it comes near the viewport (an IntersectionObserver with a margin
// of about two screens), not at load: a page's apps hold up to 1.5 MB of recorded states.  Until
// then the slot keeps the app's box (tools/site.py reserves it from the app's known size), so
// nothing moves when it is drawn.
import widget from "./slider_canvas.js";

const APPS = new URL("apps/", import.meta.url);

async function get(hash, deflated) {
  if (!/^[0-9a-f]{8,64}$/.test(hash || "")) throw new Error(`not a part's hash: ${hash}`);
  const r = await fetch(new URL(`${hash}.bin`, APPS));
  if (!r.ok) throw new Error(`${hash}.bin: HTTP ${r.status}`);
  return deflated ? new Response(r.body.pipeThrough(new DecompressionStream("deflate"))).text()
                  : new Uint8Array(await r.arrayBuffer());
}

// The app as a reader with a screen reader meets it: a name, its status line read out as it changes,
// and the picture described by that line.
function label(slot, app, n) {
  const heading = [...document.querySelectorAll("h1, h2, h3")].filter(
      (h) => h.compareDocumentPosition(slot) & Node.DOCUMENT_POSITION_FOLLOWING).pop();
  const name = `Interactive app ${n}${heading ? ": " + heading.textContent.replace(/#$/, "").trim() : ""}`;
  app.setAttribute("role", "group");
  app.setAttribute("aria-label", name);
  const status = app.querySelector(".lvm-text");
  const canvas = app.querySelector("canvas");
  if (status) {
    status.id = `lvm-status-${n}`;
    status.setAttribute("role", "status");
    status.setAttribute("aria-live", "polite");
  }
  if (canvas) {
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", `Picture of ${name}; its state is described by the status line above it`);
    if (status) canvas.setAttribute("aria-describedby", status.id);
  }
}

async function draw(slot, k) {
  const d = slot.dataset;
  try {
    const [spec, data, backgrounds] = await Promise.all([get(d.spec, true), get(d.frames), get(d.bg)]);
    const values = {spec, data, backgrounds, live: new Uint8Array(0)};
    const model = {get: (key) => values[key], set: (key, v) => { values[key] = v; }, save_changes() {}, on() {}, off() {}};
    const host = document.createElement("div");
    host.className = "lvm-host";
    slot.replaceChildren(host);
    await widget.render({model, el: host});
    label(slot, host.querySelector(".lvm-app"), k);
    slot.removeAttribute("aria-busy");
    slot.classList.add("lvm-ready");
  } catch (e) {
    slot.textContent = `slider app failed: ${e}`;
    console.error(e);
  }
}

const slots = [...document.querySelectorAll("div.lvm-slot[data-spec]")];
const started = new Set();
function start(slot) {
  if (started.has(slot)) return;
  started.add(slot);
  draw(slot, slots.indexOf(slot) + 1);
}
if ("IntersectionObserver" in window) {
  const seen = new IntersectionObserver((entries) => {
    for (const e of entries) if (e.isIntersecting) { seen.unobserve(e.target); start(e.target); }
  }, {rootMargin: "100% 0px"});
  slots.forEach((slot) => seen.observe(slot));
} else {
  slots.forEach(start);
}
// printing (and make pdf) wants every app drawn
window.addEventListener("beforeprint", () => slots.forEach(start));
window.lvmDrawAllApps = () => { slots.forEach(start); };

// A display formula wider than the column scrolls in its own box (lvm_site.css): such a box takes
// keyboard focus so it can be scrolled without a mouse (WCAG 2.1.1; axe's scrollable-region-focusable).
// Checked as each formula is laid out (sections off screen are laid out only when near).
const wide = new ResizeObserver((entries) => {
  for (const {target: m} of entries) {
    if (m.scrollWidth > m.clientWidth + 1) {
      m.tabIndex = 0;
      m.setAttribute("role", "group");
      m.setAttribute("aria-label", "Formula (scrolls sideways)");
    } else if (m.hasAttribute("tabindex")) {
      m.removeAttribute("tabindex");
    }
  }
});
document.querySelectorAll(".bd-article div.math").forEach((m) => wide.observe(m));
