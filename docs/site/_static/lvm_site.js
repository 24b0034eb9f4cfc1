// Draws every lvmlib slider app of a site page with the module JupyterLab runs (slider_canvas.js),
// from the app's stored state: three files _static/apps/HASH.bin (the spec's JSON, the zlib-packed
// states, the background PNGs), named in the slot's data-spec, data-frames and data-bg; what the
// editions or apps share is one file.  No kernel: every recorded position works.
import widget from "./slider_canvas.js";

const APPS = new URL("apps/", import.meta.url);

async function get(hash, text) {
  if (!/^[0-9a-f]{8,64}$/.test(hash || "")) throw new Error(`not a part's hash: ${hash}`);
  const r = await fetch(new URL(`${hash}.bin`, APPS));
  if (!r.ok) throw new Error(`${hash}.bin: HTTP ${r.status}`);
  return text ? r.text() : new Uint8Array(await r.arrayBuffer());
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

let n = 0;
for (const slot of document.querySelectorAll("div.lvm-slot[data-spec]")) {
  const k = ++n, d = slot.dataset;
  (async () => {
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
  })().catch((e) => { slot.textContent = `slider app failed: ${e}`; console.error(e); });
}
