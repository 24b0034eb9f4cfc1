// The course's predictions on a site page, with no kernel (tools/site_predict.py writes the forms).
// Each <div class="lvm-predict" data-id data-answers> holds the question, its options (or a number box)
// and a Commit button; the answers are in _static/predict/HASH.json, which is fetched only when the
// reader commits, so the page holds no answer before that.  The result is written into the form's
// aria-live region; the inputs are then locked, as in the notebook's widget.

const ANSWERS = new URL("predict/", import.meta.url);
const cache = new Map();

function answers(hash) {
  if (!/^[0-9a-f]{8,64}$/.test(hash || "")) return Promise.reject(new Error(`not an answers file: ${hash}`));
  if (!cache.has(hash)) {
    cache.set(hash, fetch(new URL(`${hash}.json`, ANSWERS)).then((r) => {
      if (!r.ok) throw new Error(`${hash}.json: HTTP ${r.status}`);
      return r.json();
    }));
  }
  return cache.get(hash);
}

function guessOf(box) {
  const number = box.querySelector("input.lvm-predict-number");
  if (number) {
    const text = number.value.trim().replace(",", ".");
    const value = Number(text);
    return text !== "" && Number.isFinite(value) ? {value, said: String(+value.toPrecision(4))} : null;
  }
  const picked = box.querySelector("input[type=radio]:checked");
  return picked ? {value: +picked.value, said: picked.parentElement.textContent.trim()} : null;
}

function show(result, parts) {
  result.replaceChildren();
  for (const [tag, text] of parts) {
    const el = document.createElement(tag);
    el.textContent = text;
    result.append(el, tag === "p" ? "" : " ");
  }
}

async function commit(box) {
  const result = box.querySelector(".lvm-predict-result");
  const button = box.querySelector(".lvm-predict-commit");
  if (box.classList.contains("lvm-committed")) return;
  const guess = guessOf(box);
  if (!guess) {
    show(result, [["i", box.querySelector("input.lvm-predict-number") ? "Type a number first, then press Commit."
                                                                        : "Pick an option first, then press Commit."]]);
    return;
  }
  button.disabled = true;
  try {
    const all = await answers(box.dataset.answers);
    const a = all[box.dataset.id];
    if (!a) throw new Error(`no answer for ${box.dataset.id}`);
    const right = a.numeric ? Math.abs(guess.value - a.answer) <= a.tolerance * Math.max(Math.abs(a.answer), 1e-12)
                            : guess.value === a.answer;
    box.classList.add("lvm-committed", right ? "lvm-right" : "lvm-wrong");
    for (const input of box.querySelectorAll("input")) input.disabled = true;
    show(result, [["span", "You predicted"], ["b", guess.said + "."], ["span", right ? "Right." : "Not quite."],
                  ["span", "The answer:"], ["b", a.answer_text + "."], ["p", a.why]]);
  } catch (e) {
    button.disabled = false;
    show(result, [["i", `The answer could not be loaded (${e.message}); try again.`]]);
    console.error(e);
  }
}

for (const box of document.querySelectorAll("div.lvm-predict[data-id][data-answers]")) {
  const button = box.querySelector(".lvm-predict-commit");
  box.querySelector(".lvm-predict-note")?.remove();
  button.disabled = false;
  button.addEventListener("click", () => commit(box));
  box.querySelector("input.lvm-predict-number")?.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") { ev.preventDefault(); commit(box); }
  });
}
