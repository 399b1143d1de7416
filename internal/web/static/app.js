// fileconv web page: drop files, pick targets, convert through /api/v1/convert.
// No framework and no build step; served as a file so that the Content-Security-
// Policy can forbid inline scripts.
"use strict";

(function () {
  const $ = (sel, root) => (root || document).querySelector(sel);
  const TOKEN_KEY = "fileconv-token";
  const state = { formats: null, rows: [], nextId: 1, running: 0, queue: [], canCombine: false };
  // combined is the one combined PDF, a job like a row (state, progress, result,
  // download link) but made of several rows' files.
  const combined = { el: $("#combined"), status: "new", warnings: [], blob: null, outName: "", run: sendCombined };

  // ---- access -----------------------------------------------------------------
  function token() { return sessionStorage.getItem(TOKEN_KEY) || ""; }
  function needsToken() { return state.formats && state.formats.auth === "bearer"; }
  function authHeaders() {
    return needsToken() && token() ? { Authorization: "Bearer " + token() } : {};
  }
  function askToken(message) {
    $("#token-panel").hidden = false;
    $("#token-error").textContent = message || "";
    $("#token-input").focus();
  }
  $("#token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const t = $("#token-input").value.trim();
    if (!t) return;
    sessionStorage.setItem(TOKEN_KEY, t);
    $("#token-input").value = "";
    $("#token-panel").hidden = true;
    refreshStatus();
  });

  // ---- helpers ----------------------------------------------------------------
  function formatSize(n) {
    if (n < 1024) return n + " B";
    const units = ["KiB", "MiB", "GiB"];
    let u = -1;
    do { n /= 1024; u++; } while (n >= 1024 && u < units.length - 1);
    return n.toFixed(n < 10 ? 1 : 0) + " " + units[u];
  }
  function announce(text) { $("#announce").textContent = text; }
  function inputInfo(type) { return state.formats && state.formats.inputs.find((i) => i.type === type); }
  // kindOf is what a file is converted as: what the server detected, or, for
  // a text, what the person reads it as (a CSV table, Markdown).
  function kindOf(row) { return row.readAs || row.type; }
  function outputName(name, to) {
    const dot = name.lastIndexOf(".");
    const base = dot > 0 ? name.slice(0, dot) : (name || "file");
    return base + "." + to;
  }

  // detect asks the server what the file is, from its first bytes: the workers
  // read magic numbers, never the name, and the server knows every kind they
  // know, so the page keeps no list of its own.
  async function detect(file) {
    if (file.size === 0) return { type: "empty", name: "empty file", targets: [] };
    const resp = await fetch("/api/v1/detect?size=" + file.size, {
      method: "POST", body: file.slice(0, 8192), cache: "no-store",
      headers: { "Content-Type": "application/octet-stream" },
    });
    if (!resp.ok) {
      let message = "HTTP " + resp.status;
      try { message = (await resp.json()).message || message; } catch (_) { /* keep the status */ }
      throw new Error(message);
    }
    return resp.json();
  }

  // joinWords joins ["a", "b", "c"] as "a, b or c".
  function joinWords(words, conj) {
    if (words.length < 2) return words.join("");
    return words.slice(0, -1).join(", ") + " " + conj + " " + words[words.length - 1];
  }

  // accepted says what converts to what, from /api/v1/formats, inputs with the
  // same targets together: "PDF to TXT; JPEG image, PNG image or WEBP image to
  // JPG, PNG or WEBP; text to PDF."
  function accepted(f) {
    const order = f.targets.map((t) => t.to);
    const groups = new Map();
    for (const input of f.inputs) {
      const key = joinWords(order.filter((t) => input.targets.includes(t)).map((t) => t.toUpperCase()), "or");
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(input.name);
    }
    const text = Array.from(groups, ([targets, names]) => joinWords(names, "or") + " to " + targets).join("; ");
    return text ? text.charAt(0).toUpperCase() + text.slice(1) + "." : "";
  }

  // notConvertible explains a row whose file converts to nothing.
  function notConvertible(row) {
    if (row.type === "empty") return "Empty file: nothing to convert.";
    if (row.detectError) return "Could not read the file's type: " + row.detectError;
    const these = "converts " + joinWords(state.formats.inputs.map((i) => i.name), "and") + ".";
    if (row.type === "unknown") return "Not recognised: this server " + these;
    return row.kindName + ": this server does not convert it; it " + these;
  }

  // ---- rows -------------------------------------------------------------------
  async function addFiles(files) {
    for (const file of files) {
      const row = { id: state.nextId++, file, type: "…", status: "new", blob: null, outName: "" };
      state.rows.push(row);
      renderRow(row);
      try {
        const kind = await detect(file);
        row.type = kind.type;
        row.kindName = kind.name;
      } catch (e) {
        row.type = "error";
        row.detectError = e.message;
      }
      proposeReadAs(row);
      fillTargets(row);
    }
    updateToolbar();
    announce(files.length + (files.length === 1 ? " file added" : " files added"));
  }

  // READ_AS are what a text may be read as. Its bytes cannot say it is a
  // table or Markdown, and the server reads a text as plain text unless
  // from= says otherwise; a name is only a hint, so the page proposes from
  // it, shows what it proposed, and lets the person change it.
  const READ_AS = [
    { from: "csv", label: "CSV table", name: /\.csv$/i },
    { from: "markdown", label: "Markdown", name: /\.(md|markdown)$/i },
  ];

  // proposeReadAs offers a text the readings the cluster converts, the one
  // its name suggests chosen; any other file is read as what it is.
  function proposeReadAs(row) {
    const box = $(".read-as", row.el);
    const choices = row.type === "text" ? READ_AS.filter((r) => inputInfo(r.from)) : [];
    const byName = choices.find((r) => r.name.test(row.file.name));
    row.readAs = byName ? byName.from : "";
    box.hidden = choices.length === 0;
    if (box.hidden) return;
    const sel = $(".read-as-select", box);
    sel.textContent = "";
    for (const r of [{ from: "", label: "plain text" }, ...choices]) {
      const opt = document.createElement("option");
      opt.value = r.from;
      opt.textContent = r.label;
      sel.appendChild(opt);
    }
    sel.value = row.readAs;
    $(".read-as-why", box).textContent = byName ? "(proposed from its name)" : "";
  }

  function renderRow(row) {
    const li = $("#row-template").content.firstElementChild.cloneNode(true);
    li.id = "file-" + row.id;
    li.dataset.name = row.file.name;
    $(".name", li).textContent = row.file.name;
    $(".size", li).textContent = formatSize(row.file.size);
    $(".type", li).textContent = "detecting…";
    const sel = $(".target", li);
    sel.id = "target-" + row.id;
    const label = $(".target-label", li);
    label.htmlFor = sel.id;
    label.textContent = "Convert " + row.file.name + " to";
    $(".convert", li).setAttribute("aria-label", "Convert " + row.file.name);
    $(".remove", li).setAttribute("aria-label", "Remove " + row.file.name);
    const readAs = $(".read-as-select", li);
    readAs.id = "read-as-" + row.id;
    $(".read-as-label", li).htmlFor = readAs.id;
    readAs.setAttribute("aria-label", "Read as (" + row.file.name + ")");
    readAs.addEventListener("change", () => {
      row.readAs = readAs.value;
      $(".read-as-why", li).textContent = "";
      fillTargets(row);
    });
    $(".progress", li).setAttribute("aria-label", "Progress of " + row.file.name);
    $(".convert", li).addEventListener("click", () => enqueue(row));
    $(".remove", li).addEventListener("click", () => removeRow(row));
    sel.addEventListener("change", () => {
      if (row.status === "done" || row.status === "failed") setState(row, "new", "", 0);
      fillOptions(row);
    });
    row.el = li;
    $("#files").appendChild(li);
  }

  // fillTargets offers the targets of what the file is read as, keeping the
  // chosen one when it still fits.
  function fillTargets(row) {
    const li = row.el;
    const sel = $(".target", li);
    const info = inputInfo(kindOf(row));
    const chosen = sel.value;
    sel.textContent = "";
    if (!info) {
      $(".type", li).textContent = row.type === "unknown" ? "not recognised" : (row.kindName || "unknown type");
      sel.disabled = true;
      $(".convert", li).disabled = true;
      setState(row, "failed", notConvertible(row), 0);
      return;
    }
    $(".type", li).textContent = row.kindName || info.name;
    for (const to of info.targets) {
      const t = state.formats.targets.find((x) => x.to === to);
      const opt = document.createElement("option");
      opt.value = to;
      opt.textContent = to.toUpperCase() + (to === info.default ? " (default)" : "");
      if (t) opt.title = t.description;
      sel.appendChild(opt);
    }
    sel.value = info.targets.includes(chosen) ? chosen : info.default;
    setState(row, "new", "Ready", 0);
    fillOptions(row);
  }

  // PANEL_OPTIONS are the options the page offers per file, when the chosen
  // target takes them (GET /api/v1/formats says which does): the size of an
  // image and the quality of a lossy one. The CLI and the API take them all.
  const PANEL_OPTIONS = [
    { name: "width", label: "Width (px)", min: 1, max: 10000000 },
    { name: "height", label: "Height (px)", min: 1, max: 10000000 },
    { name: "quality", label: "Quality (1–100)", min: 1, max: 100 },
  ];

  // fillOptions shows the panel fields the chosen target takes, keeping what
  // was typed when the target changes.
  function fillOptions(row) {
    const panel = $(".options", row.el);
    const fields = $(".fields", panel);
    const t = state.formats.targets.find((x) => x.to === $(".target", row.el).value);
    const accepted = PANEL_OPTIONS.filter((o) => t && (t.options || []).includes(o.name));
    row.options = row.options || {};
    for (const input of fields.querySelectorAll("input")) row.options[input.name] = input.value;
    fields.textContent = "";
    panel.hidden = accepted.length === 0;
    for (const o of accepted) {
      const label = el("label", o.label);
      const input = document.createElement("input");
      input.type = "number";
      input.name = o.name;
      input.min = o.min;
      input.max = o.max;
      input.value = row.options[o.name] || "";
      input.setAttribute("aria-label", o.label + " of " + row.file.name);
      input.addEventListener("change", () => {
        if (row.status === "done" || row.status === "failed") setState(row, "new", "", 0);
      });
      label.appendChild(input);
      fields.appendChild(label);
    }
  }

  // optionQuery is the query string of the panel's filled fields.
  function optionQuery(row) {
    let q = "";
    for (const input of $(".options", row.el).querySelectorAll("input")) {
      if (input.value !== "") q += "&" + encodeURIComponent(input.name) + "=" + encodeURIComponent(input.value);
    }
    return q;
  }

  // setState shows where a job (a row or the combined PDF) stands; a result
  // that is no longer current loses its link, so none outlives its settings.
  function setState(job, status, text, percent) {
    job.status = status;
    if (status !== "done") job.warnings = [];
    showProgress(job.el, status, text, percent);
    showWarnings(job);
    if (job.file) {
      $(".convert", job.el).disabled = busy(job) || !inputInfo(kindOf(job));
      $(".target", job.el).disabled = busy(job) || !inputInfo(kindOf(job));
      $(".read-as-select", job.el).disabled = busy(job);
    }
    if (status !== "done") dropDownload(job);
    updateToolbar();
  }

  function busy(job) { return job.status === "queued" || job.status === "running"; }
  // title names a job to people: its file, or what the files became.
  function title(job) { return job.file ? job.file.name : "the combined PDF"; }

  // showProgress puts the state in words for people and in data-status for
  // the styles and the browser tests.
  function showProgress(box, status, text, percent) {
    box.classList.toggle("done", status === "done");
    box.classList.toggle("failed", status === "failed");
    box.dataset.status = status;
    $(".state", box).textContent = text;
    const bar = $(".progress", box);
    if (percent === null) bar.removeAttribute("value"); else bar.value = percent;
  }

  // showWarnings lists what the conversion left out or changed under the job,
  // so that a result with warnings never reads as plain success.
  function showWarnings(job) {
    const warned = (job.warnings || []).length > 0;
    const note = $(".note", job.el);
    job.el.classList.toggle("warned", warned);
    note.textContent = "";
    note.hidden = !warned;
    if (!warned) return;
    note.setAttribute("aria-label", "Warnings about " + title(job));
    for (const w of job.warnings) note.appendChild(el("li", w));
  }

  // offerDownload links the result the way every result is saved: a link
  // the person clicks, named as the server named the file.
  function offerDownload(job) {
    const a = $(".download", job.el);
    a.href = URL.createObjectURL(job.blob);
    a.download = job.outName;
    a.hidden = false;
    a.setAttribute("aria-label", "Download " + job.outName);
  }

  // dropDownload frees the result's memory along with its link.
  function dropDownload(job) {
    const a = $(".download", job.el);
    a.hidden = true;
    if (a.href) URL.revokeObjectURL(a.href);
    a.removeAttribute("href");
    job.blob = null;
  }

  function removeRow(row) {
    if (row.xhr) row.xhr.abort();
    state.queue = state.queue.filter((r) => r !== row);
    const a = $(".download", row.el);
    if (a.href) URL.revokeObjectURL(a.href);
    row.el.remove();
    state.rows = state.rows.filter((r) => r !== row);
    updateToolbar();
  }

  function updateToolbar() {
    const rows = state.rows;
    const convertible = rows.filter((r) => inputInfo(kindOf(r)) && (r.status === "new" || r.status === "failed"));
    const done = rows.filter((r) => r.status === "done");
    const failed = rows.filter((r) => r.status === "failed");
    const running = rows.filter((r) => r.status === "running" || r.status === "queued");
    $("#convert-all").disabled = convertible.length === 0;
    $("#download-all").disabled = done.length === 0;
    $("#clear-all").disabled = rows.length === 0 || running.length > 0 || busy(combined);
    updateCombine();
    const parts = [];
    if (rows.length) parts.push(rows.length + (rows.length === 1 ? " file" : " files"));
    if (running.length) parts.push(running.length + " converting");
    const warned = done.filter((r) => (r.warnings || []).length > 0).length;
    if (done.length) parts.push(done.length + " done" + (warned ? " (" + warned + " with warnings)" : ""));
    if (failed.length) parts.push(failed.length + " failed");
    $("#summary").textContent = parts.join(" · ");
  }

  // ---- converting -------------------------------------------------------------
  function enqueue(row) {
    if (!inputInfo(kindOf(row)) || row.status === "queued" || row.status === "running") return;
    setState(row, "queued", "Waiting…", 0);
    state.queue.push(row);
    pump();
  }

  // pump runs queued jobs within the server's max-per-client, the combined
  // PDF among them: the server counts it as one conversion.
  function pump() {
    const limit = Math.max(1, (state.formats && state.formats.max_per_client) || 4);
    while (state.running < limit && state.queue.length) {
      const job = state.queue.shift();
      state.running++;
      (job.run || convert)(job).finally(() => { state.running--; pump(); soonRefresh(); });
    }
  }

  async function convert(row) {
    const to = $(".target", row.el).value;
    const from = row.readAs ? "&from=" + encodeURIComponent(row.readAs) : "";
    const url = "/api/v1/convert?to=" + encodeURIComponent(to) + "&name=" + encodeURIComponent(row.file.name) + from + optionQuery(row);
    const res = await transfer(row, url, row.file);
    if (res) settle(row, res, outputName(row.file.name, to));
  }

  // transfer posts a job's body and shows its progress. It resolves to the
  // result or the error, or to nothing when the job was removed (aborted),
  // since then nothing is left to show.
  function transfer(job, url, body) {
    return new Promise((resolve) => {
      const xhr = new XMLHttpRequest();
      job.xhr = xhr;
      xhr.open("POST", url);
      xhr.responseType = "blob";
      const h = authHeaders();
      for (const k in h) xhr.setRequestHeader(k, h[k]);
      // A form's type carries its boundary, which only the browser knows.
      if (!(body instanceof FormData)) xhr.setRequestHeader("Content-Type", "application/octet-stream");
      watchProgress(job, xhr);
      xhr.onerror = () => { job.xhr = null; resolve({ network: true }); };
      xhr.onabort = () => { job.xhr = null; resolve(null); };
      xhr.onload = async () => {
        job.xhr = null;
        if (xhr.status === 200) {
          resolve({ blob: xhr.response, name: dispositionName(xhr.getResponseHeader("Content-Disposition")), warnings: warningsOf(xhr) });
        } else {
          resolve({ status: xhr.status, error: await errorOf(xhr) });
        }
      };
      xhr.send(body);
    });
  }

  // watchProgress gives the upload the first half of the bar and the download
  // the second; in between the cluster converts, for a time nobody can tell.
  function watchProgress(job, xhr) {
    setState(job, "running", "Uploading… 0%", 0);
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable && e.total > 0) {
        const p = Math.round((e.loaded / e.total) * 100);
        setState(job, "running", "Uploading… " + p + "%", p * 0.5);
      }
    };
    xhr.upload.onload = () => setState(job, "running", "Converting…", null);
    xhr.onprogress = (e) => {
      if (xhr.status === 200) {
        setState(job, "running", "Downloading… " + formatSize(e.loaded), e.lengthComputable ? 50 + 50 * e.loaded / e.total : null);
      }
    };
  }

  // settle shows how a job ended, the same way for a file and for the combined
  // PDF, so that warnings and the server's messages read alike.
  function settle(job, res, fallbackName) {
    if (!res.blob) {
      setState(job, "failed", failText(res), 0);
      announce((job.file ? job.file.name : "Combining into one PDF") + " failed: " + (res.error ? res.error.message : "network error"));
      return;
    }
    job.blob = res.blob;
    job.outName = res.name || fallbackName;
    job.warnings = res.warnings;
    const result = job.outName + " (" + formatSize(job.blob.size) + ")";
    setState(job, "done", (job.warnings.length ? "Done, with warnings: " : "Done: ") + result, 100);
    offerDownload(job);
    announce((job.file ? job.file.name + " converted" : "The combined PDF is ready") + (job.warnings.length ? ", with warnings: " + job.warnings.join(" ") : ""));
  }

  // failText words a failure with the server's own message; a refused token
  // is forgotten and asked for again, since every later request would fail too.
  function failText(res) {
    if (!res.error) return "Network error: the web server did not answer.";
    const err = res.error;
    if (res.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY);
      askToken(err.message);
    }
    let text = "Error: " + err.message;
    if (err.retry) text += " (try again in " + err.retry + " s)";
    if (err.job_id) text += " [job " + err.job_id + "]";
    return text;
  }

  // ---- one PDF of several files ----------------------------------------------
  // pdfRows splits the list into the files that can go into one PDF, in list
  // order, and the others, which the page names rather than drop silently.
  // A combined PDF reads every text as plain text (a request of several
  // files carries no from=), so a text read as a table or as Markdown is
  // left out too (read) rather than come out as something else than its row
  // says.
  function pdfRows() {
    const fits = (r) => { const info = inputInfo(r.type); return !!info && info.targets.includes("pdf"); };
    return {
      use: state.rows.filter((r) => fits(r) && !r.readAs),
      skip: state.rows.filter((r) => !fits(r)),
      read: state.rows.filter((r) => fits(r) && r.readAs),
    };
  }

  // leftOut says which files a combined PDF leaves out, and why.
  function leftOut(skip, read) {
    const parts = [];
    if (skip.length) parts.push("Left out, as they cannot become PDF: " + fileNames(skip) + ".");
    if (read.length) parts.push("Left out, as a combined PDF reads texts as plain text: " + fileNames(read) + " (read it as plain text to include it).");
    return parts.join(" ");
  }

  function fileNames(rows) { return joinWords(rows.map((r) => r.file.name), "and"); }

  // updateCombine offers the button only when there is something to combine,
  // and tells beforehand what it takes and what it leaves out.
  function updateCombine() {
    const { use, skip, read } = pdfRows();
    const out = skip.concat(read);
    $("#combine").disabled = use.length < 2 || busy(combined);
    $("#combine-hint").textContent = use.length < 2 ? "Needs two or more files that convert to PDF." :
      "Joins " + use.length + " files into one PDF, in list order" + (out.length ? "; leaves out " + fileNames(out) : "") + ".";
  }

  // combine takes the files as they are now: a file added later waits for the
  // next click rather than change a request already on its way.
  function combine() {
    const { use, skip, read } = pdfRows();
    if (use.length < 2 || busy(combined)) return;
    const form = new FormData();
    form.append("to", "pdf");
    for (const r of use) form.append("file", r.file, r.file.name);
    combined.form = form;
    combined.el.hidden = false;
    $(".details", combined.el).textContent = fileNames(use) + ", in this order";
    const left = $(".left-out", combined.el);
    left.textContent = leftOut(skip, read);
    left.hidden = left.textContent === "";
    setState(combined, "queued", "Waiting…", 0);
    state.queue.push(combined);
    pump();
    if (skip.length || read.length) announce("Combining " + use.length + " files; left out: " + fileNames(skip.concat(read)));
  }

  async function sendCombined() {
    const res = await transfer(combined, "/api/v1/convert", combined.form);
    combined.form = null;
    if (res) settle(combined, res, "combined.pdf");
  }

  // dismissCombined also stops a combination under way: the panel is its
  // only view, and a result nobody can see is of no use.
  function dismissCombined() {
    if (combined.xhr) combined.xhr.abort();
    state.queue = state.queue.filter((j) => j !== combined);
    combined.form = null;
    setState(combined, "new", "", 0);
    combined.el.hidden = true;
  }

  async function errorOf(xhr) {
    const retry = xhr.getResponseHeader("Retry-After");
    try {
      const e = JSON.parse(await xhr.response.text());
      return { message: e.message || ("HTTP " + xhr.status), code: e.code, job_id: e.job_id, retry };
    } catch (_) {
      return { message: "HTTP " + xhr.status + " " + xhr.statusText, retry };
    }
  }

  // warningsOf reads the result's warnings. The server sends one
  // X-Fileconv-Warnings line per warning, which the browser joins with ", ";
  // a comma inside a warning is percent-encoded, so splitting at commas and
  // decoding gives them back.
  function warningsOf(xhr) {
    const h = xhr.getResponseHeader("X-Fileconv-Warnings");
    if (!h) return [];
    return h.split(",").map((v) => v.trim()).filter((v) => v).map((v) => {
      try { return decodeURIComponent(v); } catch (_) { return v; }
    });
  }

  function dispositionName(h) {
    if (!h) return "";
    const star = /filename\*=UTF-8''([^;]+)/i.exec(h);
    if (star) { try { return decodeURIComponent(star[1]); } catch (_) { /* fall through */ } }
    const plain = /filename="([^"]*)"/i.exec(h);
    return plain ? plain[1] : "";
  }

  function save(blob, name) {
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 60000);
  }

  // ---- ZIP (stored, no compression: the results are already compressed) --------
  const crcTable = (() => {
    const t = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      t[n] = c >>> 0;
    }
    return t;
  })();
  function crc32(bytes) {
    let c = 0xffffffff;
    for (let i = 0; i < bytes.length; i++) c = crcTable[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  }
  async function makeZip(entries) {
    const enc = new TextEncoder();
    const parts = [], central = [];
    let offset = 0;
    const now = new Date();
    const dosTime = (now.getHours() << 11) | (now.getMinutes() << 5) | (now.getSeconds() >> 1);
    const dosDate = ((now.getFullYear() - 1980) << 9) | ((now.getMonth() + 1) << 5) | now.getDate();
    for (const { name, blob } of entries) {
      const data = new Uint8Array(await blob.arrayBuffer());
      const nameBytes = enc.encode(name);
      const crc = crc32(data);
      const local = new DataView(new ArrayBuffer(30));
      local.setUint32(0, 0x04034b50, true); local.setUint16(4, 20, true); local.setUint16(6, 0x0800, true);
      local.setUint16(8, 0, true); local.setUint16(10, dosTime, true); local.setUint16(12, dosDate, true);
      local.setUint32(14, crc, true); local.setUint32(18, data.length, true); local.setUint32(22, data.length, true);
      local.setUint16(26, nameBytes.length, true); local.setUint16(28, 0, true);
      parts.push(local.buffer, nameBytes, data);
      const cd = new DataView(new ArrayBuffer(46));
      cd.setUint32(0, 0x02014b50, true); cd.setUint16(4, 20, true); cd.setUint16(6, 20, true); cd.setUint16(8, 0x0800, true);
      cd.setUint16(10, 0, true); cd.setUint16(12, dosTime, true); cd.setUint16(14, dosDate, true);
      cd.setUint32(16, crc, true); cd.setUint32(20, data.length, true); cd.setUint32(24, data.length, true);
      cd.setUint16(28, nameBytes.length, true); cd.setUint32(42, offset, true);
      central.push(cd.buffer, nameBytes);
      offset += 30 + nameBytes.length + data.length;
    }
    const cdSize = central.reduce((n, p) => n + p.byteLength, 0);
    const end = new DataView(new ArrayBuffer(22));
    end.setUint32(0, 0x06054b50, true); end.setUint16(8, entries.length, true); end.setUint16(10, entries.length, true);
    end.setUint32(12, cdSize, true); end.setUint32(16, offset, true);
    return new Blob([...parts, ...central, end.buffer], { type: "application/zip" });
  }

  async function downloadAll() {
    const seen = new Map();
    const entries = state.rows.filter((r) => r.status === "done" && r.blob).map((r) => {
      let name = r.outName;
      const n = (seen.get(name) || 0) + 1;
      seen.set(name, n);
      if (n > 1) { const dot = name.lastIndexOf("."); name = name.slice(0, dot) + " (" + n + ")" + name.slice(dot); }
      return { name, blob: r.blob };
    });
    if (!entries.length) return;
    save(await makeZip(entries), "fileconv.zip");
  }

  // ---- status panel -----------------------------------------------------------
  let refreshTimer = 0;
  function soonRefresh() {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(refreshStatus, 300);
  }

  async function refreshStatus() {
    const body = $("#status-body");
    if (needsToken() && !token()) {
      body.innerHTML = "";
      const p = document.createElement("p");
      p.className = "hint";
      p.textContent = "Enter the token to see the cluster.";
      body.appendChild(p);
      return;
    }
    let st;
    try {
      const resp = await fetch("/api/v1/status", { headers: authHeaders(), cache: "no-store" });
      if (resp.status === 401) { sessionStorage.removeItem(TOKEN_KEY); askToken((await resp.json()).message); return; }
      st = await resp.json();
    } catch (e) {
      renderStatus(null, "The web server does not answer: " + e.message);
      return;
    }
    renderStatus(st);
  }

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }

  function renderStatus(st, error) {
    const body = $("#status-body");
    body.textContent = "";
    if (!st) { body.appendChild(el("p", error, "error")); return; }
    const dl = el("dl");
    const add = (k, v) => { dl.appendChild(el("dt", k)); dl.appendChild(el("dd", v)); };
    const m = st.master;
    if (m) {
      const workers = m.workers || [];
      const healthy = workers.filter((w) => w.state === "healthy").length;
      add("Master", m.ready ? "ready" : "not ready: " + (m.not_ready || ""));
      add("Workers", healthy + " of " + workers.length + " healthy");
      add("Jobs in flight", String(m.jobs_in_flight) + (m.queued ? " (" + m.queued + " queued)" : ""));
    } else {
      add("Master", "status unavailable");
    }
    const r = st.web.recent;
    add("Recent (" + Math.round(r.window_seconds) + " s)", r.converted + " converted, " + r.failed + " failed · " +
      r.files_per_minute.toFixed(1) + " files/min · " + formatSize(Math.round(r.bytes_in_per_second)) + "/s in" +
      (r.converted ? " · " + r.mean_seconds.toFixed(2) + " s each" : ""));
    add("This page's server", st.web.in_flight + " in flight · " + st.web.converted + " converted since start");
    body.appendChild(dl);
    if (!m) { body.appendChild(el("p", "Cannot reach the master's status: " + (st.master_error || "unknown reason"), "error")); return; }
    const ul = el("ul", undefined, "workers");
    ul.setAttribute("aria-label", "Workers");
    for (const w of m.workers || []) {
      const li = el("li");
      const dot = el("span", undefined, "dot " + w.state);
      dot.setAttribute("aria-hidden", "true");
      li.appendChild(dot);
      li.appendChild(el("strong", w.addr));
      li.appendChild(el("div", w.state + (w.ejected_for ? " (" + w.ejected_for + ")" : "") + " · " + w.in_flight + "/" + w.capacity + " busy · " + w.jobs + " jobs"));
      if (w.last_error) li.appendChild(el("div", w.last_error, "error"));
      ul.appendChild(li);
    }
    body.appendChild(ul);
  }

  // ---- wiring -----------------------------------------------------------------
  const zone = $("#dropzone");
  ["dragenter", "dragover"].forEach((t) => zone.addEventListener(t, (e) => { e.preventDefault(); zone.classList.add("over"); }));
  ["dragleave", "drop"].forEach((t) => zone.addEventListener(t, () => zone.classList.remove("over")));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    if (e.dataTransfer && e.dataTransfer.files.length) addFiles(Array.from(e.dataTransfer.files));
  });
  // A file dropped beside the zone must not make the browser navigate away.
  window.addEventListener("dragover", (e) => e.preventDefault());
  window.addEventListener("drop", (e) => e.preventDefault());
  $("#file-input").addEventListener("change", (e) => {
    const files = Array.from(e.target.files || []);
    e.target.value = "";
    if (files.length) addFiles(files);
  });
  $("#convert-all").addEventListener("click", () => {
    state.rows.filter((r) => r.status === "new" || r.status === "failed").forEach(enqueue);
  });
  $("#download-all").addEventListener("click", downloadAll);
  $("#clear-all").addEventListener("click", () => {
    state.rows.slice().forEach(removeRow);
    if (!combined.el.hidden) dismissCombined();
  });
  $("#combine").addEventListener("click", combine);
  // The Dismiss button goes with its panel: the keyboard's focus moves on
  // rather than fall back to the top of the page.
  $(".remove", combined.el).addEventListener("click", () => {
    dismissCombined();
    ($("#combine").disabled ? $("#file-input") : $("#combine")).focus();
  });

  // setCombinable takes the "files" input out of the kinds: it is a request of
  // several files, which no file is detected as, so it names the Combine
  // button's ability rather than a type of file the page would list.
  function setCombinable(f) {
    const inputs = f.inputs || [];
    state.canCombine = inputs.some((i) => i.type === "files" && i.targets.includes("pdf"));
    f.inputs = inputs.filter((i) => i.type !== "files");
    $("#combine").hidden = !state.canCombine;
  }

  async function start() {
    try {
      const resp = await fetch("/api/v1/formats", { cache: "no-store" });
      state.formats = await resp.json();
    } catch (e) {
      renderStatus(null, "The web server does not answer: " + e.message);
      return;
    }
    setCombinable(state.formats);
    $("#accepted").textContent = accepted(state.formats) +
      (state.canCombine ? " Files that convert to PDF can also be combined into one." : "");
    $("#max-size").textContent = formatSize(state.formats.max_body_bytes);
    if (needsToken() && !token()) askToken();
    document.body.dataset.ready = "true";
    refreshStatus();
    setInterval(refreshStatus, 5000);
  }
  start();
})();
