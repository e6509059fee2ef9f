// Guangying live monitor: views, keyer controls, colour pick, garbage mask, stats and focus.
"use strict";
const $ = (id) => document.getElementById(id);
let settings = null;       // /settings.json
let view = "composite";
let mode = null;           // "pick" | "draw" | null
let maskPoints = [];       // source pixels
let pending = {};          // changes waiting to be sent (sliders send at most every 60 ms)
let sendTimer = null;
let shownVersion = null;   // the settings version the controls show

async function post(path, body) {
  const r = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" },
                                body: JSON.stringify(body || {}) });
  const data = await r.json();
  $("message").textContent = r.ok ? "" : data.error;
  return r.ok ? data : null;
}

function queueChange(name, value) {
  pending[name] = value;
  if (sendTimer) return;
  sendTimer = setTimeout(async () => {
    const changes = pending; pending = {}; sendTimer = null;
    const data = await post("/settings", changes);
    if (data) { settings.values = data.values; shownVersion = data.version; }
  }, 60);
}

function showValues(values) {
  // Another tab (a second operator, a tablet) or a script changed the look: the controls follow, but not
  // the one in this page's hand. They kept showing the old look, which was not the one being recorded.
  settings.values = values;
  $("matte").value = values.matte || "chroma";
  if (document.activeElement !== $("background")) $("background").value = values.background || "";
  for (const input of document.querySelectorAll("[data-setting]")) {
    const value = values[input.dataset.setting];
    if (input === document.activeElement && input.type !== "checkbox") continue;
    if (input.type === "checkbox") input.checked = !!value;
    else if (input.type === "range") {
      if (value !== undefined && value !== null) widenTo(input, value);
      input.value = value ?? input.min;
      input.nextElementSibling.textContent = input.value;
    } else if (value !== undefined && value !== null) input.value = value;
  }
}

async function followSettings(version) {
  if (settings === null || version === shownVersion || sendTimer || Object.keys(pending).length) return;
  const fresh = await (await fetch("/settings.json", { cache: "no-store" })).json();
  if (sendTimer || Object.keys(pending).length) return;  // this page changed something meanwhile
  shownVersion = fresh.version;
  showValues(fresh.values);
}

function addRow(parent, name, input, out) {
  const row = document.createElement("div"); row.className = "row";
  const label = document.createElement("label"); label.textContent = name.replaceAll("_", " "); label.htmlFor = name;
  row.append(label, input); if (out) row.append(out);
  parent.append(row);
}

function widenTo(input, value) {
  // A look started outside a slider's usual range (--screen-gain 3, --grow-px -10): shown clamped to
  // it, the page showed another look than the one on screen, and touching the slider jumped into it.
  if (value > parseFloat(input.max)) input.max = value;
  if (value < parseFloat(input.min)) input.min = value;
}

function buildControls() {
  const v = settings.values;
  const matte = $("matte");
  matte.innerHTML = settings.choices.matte.map((m) => `<option>${m}</option>`).join("");
  matte.value = v.matte || "chroma";
  matte.onchange = () => queueChange("matte", matte.value);
  $("backgrounds").innerHTML = settings.backgrounds.map((b) => `<option value="${b}">`).join("");
  $("background").value = v.background || "";
  $("background").onchange = () => queueChange("background", $("background").value);
  for (const [name, [lo, hi, step]] of Object.entries(settings.sliders)) {
    const input = document.createElement("input");
    Object.assign(input, { type: "range", id: name, min: lo, max: hi, step: step });
    if (v[name] !== undefined && v[name] !== null) widenTo(input, v[name]);
    input.value = v[name] ?? lo;
    input.dataset.setting = name;
    const out = document.createElement("output"); out.textContent = input.value;
    input.oninput = () => { out.textContent = input.value; queueChange(name, parseFloat(input.value)); };
    addRow($("sliders"), name, input, out);
  }
  for (const [name, options] of Object.entries(settings.choices)) {
    if (name === "matte") continue;
    const select = document.createElement("select"); select.id = name; select.dataset.setting = name;
    select.innerHTML = options.map((o) => `<option>${o}</option>`).join("");
    if (v[name] !== undefined && v[name] !== null) select.value = v[name];
    select.onchange = () => queueChange(name, select.value);
    addRow($("choices"), name, select);
  }
  for (const name of settings.flags) {
    const box = document.createElement("input"); box.type = "checkbox"; box.id = name; box.dataset.setting = name;
    box.checked = !!v[name];
    box.onchange = () => queueChange(name, box.checked);
    addRow($("flags"), name, box);
  }
}

function setView(next) {
  view = next;
  for (const b of document.querySelectorAll("button.view")) b.classList.toggle("on", b.dataset.view === view);
  $("live").src = `/stream.mjpg?view=${view}&t=${Date.now()}`;
}

function sourcePoint(event) {
  // Click position → source pixels (the side-by-side view is not a 1:1 picture).
  const img = $("live"), rect = img.getBoundingClientRect();
  return [(event.clientX - rect.left) / rect.width * settings.width,
          (event.clientY - rect.top) / rect.height * settings.height];
}

function drawMask() {
  if (!settings) return;
  const img = $("live"), sx = img.clientWidth / settings.width, sy = img.clientHeight / settings.height;
  $("maskpoly").setAttribute("points", maskPoints.map(([x, y]) => `${x * sx},${y * sy}`).join(" "));
}

function setMode(next) {
  mode = mode === next ? null : next;
  $("pick").classList.toggle("on", mode === "pick");
  $("draw").classList.toggle("on", mode === "draw");
  if (mode === "pick" && view !== "plate") setView("plate");
}

async function onPictureClick(event) {
  if (view === "side" || !settings) return;
  const [x, y] = sourcePoint(event);
  if (mode === "pick") {
    const data = await post("/pick", { x, y });
    if (data) {
      settings.values = data.values; shownVersion = data.version;
      $("message").textContent = `screen colour ${data.values.screen_colour}`;
    }
    setMode("pick");
  } else if (mode === "draw") {
    maskPoints.push([Math.round(x), Math.round(y)]); drawMask();
  }
}

function showFocus(f) {
  if (!f) return;
  $("focuspanel").style.display = "block";
  const m = (v) => (v === null ? "–" : v.toFixed(2) + " m");
  $("focus").textContent = `subject ${m(f.subject_m)}  focus ${m(f.focus_m)}  DoF ${m(f.near_m)} – ${f.far_m === null ? "∞" : m(f.far_m)}  ${f.mode} ${f.error || ""}`;
  const scale = (d) => Math.max(0, Math.min(100, (d === null ? 10 : d) / 10 * 100)); // 0–10 m bar
  $("dofband").style.left = scale(f.near_m) + "%";
  $("dofband").style.width = (scale(f.far_m) - scale(f.near_m)) + "%";
  $("subjectmark").style.left = scale(f.subject_m) + "%";
}

async function pollStats() {
  try {
    const r = await fetch("/stats.json", { cache: "no-store" });
    const s = await r.json();
    const fmt = (v) => (v === null ? "–" : v.toFixed(1));
    const damaged = (s.damaged ? `  damaged ${s.damaged}` : "") + (s.artefacts ? `  artefacts ${s.artefacts}` : "");
    const tracking = s.camera_tracking ? `  tracking ${s.camera_tracking.state}` : "";
    $("status").textContent = `${s.state}  ${fmt(s.fps)} fps  latency p50 ${fmt(s.latency_ms_p50)} ms  p95 ` +
      `${fmt(s.latency_ms_p95)} ms  in ${s.frames_in}  out ${s.frames_out}  dropped ${s.dropped}${damaged}  ` +
      `v${s.settings_version}${tracking}`;
    const banner = $("banner");
    const untracked = { lost: "CAMERA TRACKING LOST: the set holds the camera's last pose",
                        waiting: "NO CAMERA TRACKING yet: the set stays at its rest pose" };
    if (s.state === "lost" || s.state === "ended" || s.state === "error" || (s.state === "starting" && s.message)) {
      const lead = { lost: "SOURCE LOST: ", ended: "take ended: ", starting: "starting: " }[s.state] || "";
      banner.textContent = lead + s.message;
      banner.classList.add("show");
    } else if (s.state === "live" && s.camera_tracking && untracked[s.camera_tracking.state]) {
      banner.textContent = untracked[s.camera_tracking.state];
      banner.classList.add("show");
    } else banner.classList.remove("show");
    showFocus(s.focus);
    followSettings(s.settings_version);
  } catch (e) {
    $("banner").textContent = "monitor disconnected: the take has ended or the machine is unreachable";
    $("banner").classList.add("show");
  }
}

async function start() {
  // The controls are wired before the settings arrive: the picture may show first (it is the page's own
  // <img>), and a stop pressed then must not be lost. The page serves them disabled until this runs (a
  // slow app.js left a stop button that looked ready and did nothing).
  for (const b of document.querySelectorAll("button.view")) b.onclick = () => setView(b.dataset.view);
  $("live").addEventListener("click", onPictureClick);
  $("pick").onclick = () => setMode("pick");
  $("draw").onclick = () => { setMode("draw"); if (mode === "draw") { maskPoints = []; drawMask(); } };
  $("applymask").onclick = async () => {
    if (maskPoints.length < 3) { $("message").textContent = "draw at least three points"; return; }
    await post("/settings", { garbage_mask: maskPoints.map(([x, y]) => `${x},${y}`).join(";") });
    setMode("draw");
  };
  $("clearmask").onclick = async () => { maskPoints = []; drawMask(); await post("/settings", { garbage_mask: null }); };
  $("save").onclick = async () => {
    const data = await post("/save");
    if (data) $("saved").textContent = `saved ${data.path} (v${data.version})`;
  };
  $("stop").onclick = () => post("/stop");
  for (const b of document.querySelectorAll("button[disabled]")) b.disabled = false;
  setInterval(pollStats, 500);
  pollStats();
  settings = await (await fetch("/settings.json")).json();
  shownVersion = settings.version;
  buildControls();
}
start();
