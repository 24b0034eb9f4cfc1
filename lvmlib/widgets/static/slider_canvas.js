// lvmlib slider apps drawn by the page (anywidget ESM; also run by the static course site).
// The kernel recorded every state once (lvmlib/widgets/client.py, record.py): a move draws the
// state's items on a canvas over its static background, with no kernel round trip.
// Model traits: spec (JSON), data (zlib: u32 n | JSON head | arrays), backgrounds (PNGs),
// position / request (page -> kernel), live (kernel -> page: a state off the grid).

const CSS = `
.lvm-app { font-family: var(--jp-ui-font-family, system-ui, sans-serif); font-size: var(--jp-ui-font-size1, 13px);
  color: var(--jp-ui-font-color1, #222); max-width: 100%; }
.lvm-app .lvm-controls { display: flex; flex-flow: row wrap; gap: 2px 18px; align-items: center; margin: 2px 0 4px; }
.lvm-app .lvm-control { display: flex; align-items: center; gap: 8px; min-width: 20em; max-width: 100%; }
.lvm-app .lvm-control label { white-space: nowrap; }
.lvm-app .lvm-control input[type=range] { flex: 1 1 auto; min-width: 10em; }
.lvm-app .lvm-readout { min-width: 3em; white-space: nowrap; font-variant-numeric: tabular-nums; }
.lvm-app .lvm-text { margin: 2px 0 4px; line-height: 1.4; }
.lvm-app .lvm-note { font-size: 90%; opacity: 0.75; margin: 2px 0; }
.lvm-app canvas { display: block; max-width: 100%; height: auto; }
`;

async function inflate(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function asBytes(v) {
  if (!v) return new Uint8Array(0);
  if (v instanceof Uint8Array) return v;
  if (v instanceof DataView) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  if (v.buffer instanceof ArrayBuffer) return new Uint8Array(v.buffer, v.byteOffset || 0, v.byteLength);
  return new Uint8Array(v);
}

// zlib(u32 n | JSON head | pad | arrays) -> {head, buf, base}
async function unpack(bytes) {
  const raw = await inflate(bytes);
  const n = new DataView(raw.buffer, raw.byteOffset, 4).getUint32(0, true);
  const head = JSON.parse(new TextDecoder().decode(raw.subarray(4, 4 + n)));
  const buf = raw.slice().buffer;  // a fresh, aligned copy
  return {head, buf, base: 4 + n};
}

class Scene {
  constructor(spec, packed, q) {
    this.spec = spec; this.q = q; this.head = packed.head; this.buf = packed.buf; this.base = packed.base;
    this.cache = new Map();
    this.families = {};
  }
  async loadFonts(fonts) {   // the fonts the kernel subset for this app's texts, one family each
    const tag = Math.random().toString(36).slice(2, 8);
    await Promise.all((fonts || []).map(async (f, i) => {
      const family = `lvm-${tag}-${i}`;
      const bin = Uint8Array.from(atob(f.data), (ch) => ch.charCodeAt(0));
      const face = new FontFace(family, bin);
      try { await face.load(); document.fonts.add(face); this.families[f.name] = family; } catch (e) { /* fallback font */ }
    }));
  }
  arr(ref, T) { return new T(this.buf, this.base + ref[0], ref[1]); }
  points(ref) {   // int16 differences (x, y interleaved; wrapping) -> int16 points, in 1/q px
    const d = this.arr(ref, Int16Array), out = new Int16Array(d.length);
    let x = 0, y = 0;
    for (let i = 0; i < d.length; i += 2) {
      x = (x + d[i]) << 16 >> 16; y = (y + d[i + 1]) << 16 >> 16; out[i] = x; out[i + 1] = y;
    }
    return out;
  }
  path(item) {   // a Path2D (canvas px) of a "p" item
    const v = this.points(item.v), q = this.q, p = new Path2D();
    if (!item.c) {
      p.moveTo(v[0] / q, v[1] / q);
      for (let i = 2; i < v.length; i += 2) p.lineTo(v[i] / q, v[i + 1] / q);
      return p;
    }
    const c = this.arr(item.c, Uint8Array);
    for (let i = 0, j = 0; i < c.length; ) {
      const code = c[i];
      if (code === 1) { p.moveTo(v[j] / q, v[j + 1] / q); i += 1; j += 2; }
      else if (code === 2) { p.lineTo(v[j] / q, v[j + 1] / q); i += 1; j += 2; }
      else if (code === 3) { p.quadraticCurveTo(v[j] / q, v[j + 1] / q, v[j + 2] / q, v[j + 3] / q); i += 2; j += 4; }
      else if (code === 4) {
        p.bezierCurveTo(v[j] / q, v[j + 1] / q, v[j + 2] / q, v[j + 3] / q, v[j + 4] / q, v[j + 5] / q);
        i += 3; j += 6;
      } else if (code === 79) { p.closePath(); i += 1; j += 2; }
      else { i += 1; j += 2; }
    }
    return p;
  }
  marker(mk) {
    const p = new Path2D();
    for (let i = 0; i < mk.length; ) {
      const [x, y, code] = mk[i];
      if (code === 1) { p.moveTo(x, y); i += 1; }
      else if (code === 2) { p.lineTo(x, y); i += 1; }
      else if (code === 3 && i + 1 < mk.length) { p.quadraticCurveTo(x, y, mk[i + 1][0], mk[i + 1][1]); i += 2; }
      else if (code === 4 && i + 2 < mk.length) {
        p.bezierCurveTo(x, y, mk[i + 1][0], mk[i + 1][1], mk[i + 2][0], mk[i + 2][1]); i += 3;
      } else if (code === 79) { p.closePath(); i += 1; }
      else i += 1;
    }
    return p;
  }
  image(item) {   // an RGBA picture as a canvas (drawImage composites it; putImageData would not)
    const c = document.createElement("canvas");
    c.width = item.iw; c.height = item.ih;
    const px = new Uint8ClampedArray(this.buf, this.base + item.a[0], item.a[1]);
    c.getContext("2d").putImageData(new ImageData(px, item.iw, item.ih), 0, 0);
    return c;
  }
  prepared(item) {
    let p = this.cache.get(item);
    if (!p) {
      if (item.k === "t") return null;
      if (item.k === "p") p = this.path(item);
      else if (item.k === "m") {
        p = {mk: this.marker(item.mk), xy: this.points(item.xy)};
        // opaque markers of one colour: one path (a union looks the same as marker after marker)
        const opaque = (c) => !c || /^rgba\(\d+,\d+,\d+,1\)$/.test(c);
        if (opaque(item.f) && opaque(item.s) && (!item.f || !item.s || item.f === item.s)) {
          const all = new Path2D(), q = this.q, xy = p.xy;
          for (let i = 0; i < xy.length; i += 2) all.addPath(p.mk, new DOMMatrix([1, 0, 0, 1, xy[i] / q, xy[i + 1] / q]));
          p.all = all;
        }
      }
      else if (item.k === "i") p = this.image(item);
      this.cache.set(item, p);
    }
    return p;
  }
  draw(ctx, item) {
    const p = this.prepared(item);
    ctx.save();
    if (item.clip) { ctx.beginPath(); ctx.rect(...item.clip); ctx.clip(); }
    if (item.k === "t") {
      ctx.font = `${item.px}px "${this.families[item.font] || "DejaVu Sans"}", "DejaVu Sans", sans-serif`;
      ctx.textAlign = item.al || "left"; ctx.textBaseline = "alphabetic"; ctx.fillStyle = item.f;
      ctx.fillText(item.s, item.x, item.y);
    } else if (item.k === "i") {
      ctx.imageSmoothingEnabled = !!item.smooth;
      const r = item.r;
      ctx.drawImage(p, r[0], r[1], r[2], r[3]);
    } else {
      if (item.s) {
        ctx.strokeStyle = item.s; ctx.lineWidth = item.w; ctx.lineCap = item.cap || "butt";
        ctx.lineJoin = item.join || "miter"; ctx.setLineDash(item.d || []);
      }
      if (item.f) ctx.fillStyle = item.f;
      if (item.k === "p") {
        if (item.f) ctx.fill(p);
        if (item.s) ctx.stroke(p);
      } else if (p.all) {
        if (item.f) ctx.fill(p.all);
        if (item.s) ctx.stroke(p.all);
      } else {
        const q = this.q, xy = p.xy;
        for (let i = 0; i < xy.length; i += 2) {
          ctx.setTransform(1, 0, 0, 1, xy[i] / q, xy[i + 1] / q);
          if (item.f) ctx.fill(p.mk);
          if (item.s) ctx.stroke(p.mk);
        }
      }
    }
    ctx.restore();
  }
}

function el(tag, attrs = {}, text = null) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== null) e.textContent = text;
  return e;
}

async function render({model, el: root}) {
  const spec = JSON.parse(model.get("spec"));
  if (!document.getElementById("lvm-app-style")) {
    const style = el("style", {id: "lvm-app-style"}); style.textContent = CSS; document.head.appendChild(style);
  }
  // data-lm-suppress-shortcuts: JupyterLab leaves the keys of these controls to them (arrow keys move a slider)
  const app = el("div", {class: "lvm-app", "data-app": spec.name, "data-lm-suppress-shortcuts": "true"});
  const bar = el("div", {class: "lvm-controls"});
  const text = el("div", {class: "lvm-text"});
  const canvas = el("canvas", {width: spec.width, height: spec.height});
  canvas.style.width = `${spec.css_width}px`;
  const ctx = canvas.getContext("2d");
  const pos = spec.controls.map((c) => c.index);
  const inputs = [];
  spec.controls.forEach((c, k) => {
    const box = el("div", {class: `lvm-control lvm-${c.kind}`});
    const id = `lvm-${Math.random().toString(36).slice(2)}`;
    box.appendChild(el("label", {for: id, class: "lvm-label"}, c.label));
    let input;
    if (c.kind === "select") {
      input = el("select", {id});
      c.labels.forEach((lab, i) => input.appendChild(el("option", {value: i}, lab)));
      input.selectedIndex = c.index;
      box.appendChild(input);
    } else {
      input = el("input", {id, type: "range", min: 0, max: c.labels.length - 1, step: 1, value: c.index,
                           role: "slider", "aria-valuemin": 0, "aria-valuemax": c.labels.length - 1});
      const out = el("span", {class: "lvm-readout"});
      box.appendChild(input); box.appendChild(out);
      input._readout = out;
    }
    inputs.push(input);
    bar.appendChild(box);
  });
  app.appendChild(bar);
  if (spec.note) app.appendChild(el("div", {class: "lvm-note"}, spec.note));
  app.appendChild(text);
  app.appendChild(canvas);
  root.appendChild(app);

  const showControls = () => inputs.forEach((input, k) => {
    const c = spec.controls[k];
    if (c.kind === "select") { input.selectedIndex = pos[k]; return; }
    input.value = pos[k];
    input.setAttribute("aria-valuenow", pos[k]);
    input.setAttribute("aria-valuetext", c.labels[pos[k]]);
    input._readout.textContent = c.labels[pos[k]];
  });
  showControls();

  const [packed, bgs] = await Promise.all([unpack(asBytes(model.get("data"))), (async () => {
    const all = asBytes(model.get("backgrounds"));
    return all;
  })()]);
  const scene = new Scene(spec, packed, spec.q || 2);
  await scene.loadFonts(spec.fonts);
  const head = packed.head;
  const offsets = scene.arr(head.offsets, Uint32Array), ids = scene.arr(head.ids, Uint32Array);
  const stateBg = scene.arr(head.bg, Uint16Array), stateText = scene.arr(head.text, Uint32Array);
  const backgrounds = await Promise.all(head.bgs.map(([off, n]) =>
      createImageBitmap(new Blob([bgs.subarray(off, off + n)], {type: "image/png"}))));
  for (const item of head.items) scene.prepared(item);   // paths and pictures ready before the first move
  const strides = [];
  let s = 1;
  for (let k = spec.grid.length - 1; k >= 0; k--) { strides[k] = s; s *= spec.grid[k].length; }
  const gridPos = spec.grid.map((g) => new Map(g.map((p, i) => [p, i])));
  const nearest = (g, p) => g.reduce((best, v, i) => Math.abs(v - p) < Math.abs(g[best] - p) ? i : best, 0);

  let liveScene = null, liveKey = null;
  const paint = (bg, items, sc, line) => {
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    if (bg) ctx.drawImage(bg, 0, 0);
    for (const item of items) sc.draw(ctx, item);
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    if (line !== null && line !== undefined) text.innerHTML = line;
  };
  const draw = () => {
    let exact = true, state = 0;
    pos.forEach((p, k) => {
      let i = gridPos[k].get(p);
      if (i === undefined) { exact = false; i = nearest(spec.grid[k], p); }
      state += i * strides[k];
    });
    const key = pos.join(",");
    if (!exact && liveScene && liveKey === key) {
      const h = liveScene.head;
      paint(h.bg >= 0 ? backgrounds[h.bg] : liveScene.bgImage, h.items, liveScene, h.text);
    } else {
      const items = [];
      for (let i = offsets[state]; i < offsets[state + 1]; i++) items.push(head.items[ids[i]]);
      paint(backgrounds[stateBg[state]], items, scene, head.texts[stateText[state]]);
    }
    app.dispatchEvent(new CustomEvent("lvm-drawn", {bubbles: true, detail: {t: performance.now(), exact}}));
    return exact;
  };
  let pending = null;
  const tell = (exact) => {   // the kernel, when there is one: where the controls are, and a state off the grid
    clearTimeout(pending);
    pending = setTimeout(() => {
      try {
        model.set("position", pos.slice());
        if (!exact) model.set("request", pos.slice());
        model.save_changes();
      } catch (e) { /* no kernel: the static page */ }
    }, exact ? 150 : 0);
  };
  inputs.forEach((input, k) => {
    const on = () => {
      const v = spec.controls[k].kind === "select" ? input.selectedIndex : parseInt(input.value, 10);
      if (v === pos[k]) return;
      pos[k] = v;
      showControls();
      tell(draw());
    };
    input.addEventListener("input", on);
    input.addEventListener("change", on);
    // the notebook's own key bindings (JupyterLab: arrows move between cells) must not see a control's keys
    input.addEventListener("keydown", (e) => e.stopPropagation());
  });
  const onLive = async () => {
    const bytes = asBytes(model.get("live"));
    if (!bytes.length) return;
    const p = await unpack(bytes);
    const sc = new Scene(spec, p, spec.q || 2);
    sc.families = scene.families;
    if (p.head.png) sc.bgImage = await createImageBitmap(
        new Blob([new Uint8Array(p.buf, p.base + p.head.png[0], p.head.png[1])], {type: "image/png"}));
    liveScene = sc; liveKey = p.head.request.join(",");
    if (liveKey === pos.join(",")) draw();
  };
  model.on("change:live", onLive);
  draw();
  return () => model.off("change:live", onLive);
}

export default {render};
