// Dossier web app behaviour. Served from /static (CSP: no inline scripts).
// Every string that came from a document is put into the page with
// textContent (never innerHTML), so it is shown, never run.
"use strict";

(function () {
  const csrf = () => document.body.dataset.csrf || "";

  // -- highlights: lay the server-computed rectangles over the page image ----
  function placeHighlights() {
    const boxes = document.querySelectorAll(".page-frame .hl[data-box]");
    boxes.forEach((el) => {
      const [x0, y0, x1, y1] = el.dataset.box.split(" ").map(Number);
      el.style.left = (x0 * 100) + "%";
      el.style.top = (y0 * 100) + "%";
      el.style.width = ((x1 - x0) * 100) + "%";
      el.style.height = ((y1 - y0) * 100) + "%";
    });
    const first = boxes[0] || document.getElementById("quote-mark");
    if (first) {
      const img = document.getElementById("page-image");
      const go = () => first.scrollIntoView({ block: "center" });
      if (img && !img.complete) img.addEventListener("load", go, { once: true }); else go();
    }
  }

  // -- uploads: one request per file, then the job's events -------------------
  const STAGE_VALUE = { uploading: 0.05, queued: 0.15, parsing: 0.35, embedding: 0.6, indexing: 0.85, indexed: 1, failed: 1 };
  const STAGE_TEXT = { uploading: "uploading", queued: "queued", parsing: "parsing", embedding: "embedding",
    indexing: "indexing", indexed: "indexed", failed: "failed" };

  function uploadRow(file) {
    const li = document.createElement("li");
    li.className = "uploading";
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = file.name;
    name.title = file.name;
    const bar = document.createElement("progress");
    bar.max = 1; bar.value = 0.02;
    bar.setAttribute("aria-label", "Progress of " + file.name);
    const stage = document.createElement("span");
    stage.className = "stage";
    stage.textContent = "uploading";
    li.append(name, bar, stage);
    return { li, bar, stage };
  }

  function showStage(row, job) {
    const st = job.stage || job.status;
    row.li.className = st;
    row.li.dataset.stage = st;
    row.bar.value = STAGE_VALUE[st] ?? row.bar.value;
    let text = STAGE_TEXT[st] || st;
    if (st === "failed") {
      text = "failed: " + (job.error || "the file could not be read");
    } else if (job.pages) {
      text += " · " + job.pages + " page" + (job.pages === 1 ? "" : "s");
      if (job.chunks) text += ", " + job.chunks + " chunks";
    }
    row.stage.textContent = text;
    if (st === "indexed" && job.document_id) {
      const a = document.createElement("a");
      a.href = "/documents/" + encodeURIComponent(job.document_id);
      a.textContent = " open";
      row.stage.append(a);
    }
  }

  function followJob(row, jobId, done) {
    const source = new EventSource("/jobs/" + encodeURIComponent(jobId) + "/events");
    const on = (name) => source.addEventListener(name, (ev) => {
      const job = JSON.parse(ev.data);
      showStage(row, job);
      if (name !== "progress") { source.close(); done(); }
    });
    on("progress"); on("done"); on("failed");
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED) return;
      source.close();
      row.stage.textContent = "lost contact with the server; reload the page to see the result";
      done();
    };
  }

  function uploadFile(file, done) {
    const row = uploadRow(file);
    document.getElementById("upload-list").append(row.li);
    const form = new FormData();
    form.append("file", file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/documents/upload");
    xhr.setRequestHeader("X-CSRF-Token", csrf());
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = (ev) => {
      if (ev.lengthComputable) {
        row.bar.value = 0.05 * ev.loaded / ev.total;
        row.stage.textContent = "uploading " + Math.round(100 * ev.loaded / ev.total) + "%";
      }
    };
    xhr.onload = () => {
      let body = {};
      try { body = JSON.parse(xhr.responseText); } catch (e) { body = {}; }
      if (xhr.status === 202 && body.jobs && body.jobs.length) {
        showStage(row, body.jobs[0]);
        followJob(row, body.jobs[0].id, done);
      } else {
        showStage(row, { stage: "failed", error: body.error || ("the server answered " + xhr.status) });
        done();
      }
    };
    xhr.onerror = () => { showStage(row, { stage: "failed", error: "the upload did not reach the server" }); done(); };
    xhr.send(form);
  }

  function refreshRows() {
    const q = document.getElementById("q");
    const url = "/documents/rows?q=" + encodeURIComponent(q ? q.value : "");
    fetch(url, { headers: { "HX-Request": "true" } }).then((r) => r.ok ? r.text() : null).then((text) => {
      // Our own server's escaped HTML fragment (the same one htmx swaps in).
      if (text !== null) document.getElementById("document-rows").innerHTML = text;
    });
  }

  function startUploads(files) {
    let pending = files.length;
    if (!pending) return;
    const finished = () => { pending -= 1; if (pending === 0) refreshRows(); };
    Array.from(files).forEach((f) => uploadFile(f, finished));
  }

  function setupUpload() {
    const zone = document.getElementById("dropzone");
    const input = document.getElementById("files");
    if (!zone || !input) return;
    input.addEventListener("change", () => { startUploads(input.files); input.value = ""; });
    zone.addEventListener("dragover", (ev) => { ev.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (ev) => {
      ev.preventDefault();
      zone.classList.remove("over");
      startUploads(ev.dataTransfer.files);
    });
  }

  // -- ask: POST, then read the answer's server-sent events -------------------
  function citationLink(c) {
    let url = "/documents/" + encodeURIComponent(c.document_id) + "?page=" + c.page + "&hp=" + c.page;
    if (c.start != null && c.end != null) url += "&s=" + c.start + "&e=" + c.end;
    else url += "&q=" + encodeURIComponent(c.quote || "");
    return url;
  }

  function chip(c, reason) {
    const a = document.createElement("a");
    a.className = "chip " + (c.verified ? "verified" : "dropped");
    a.href = citationLink(c);
    a.dataset.n = c.n;
    a.title = c.verified ? "Verified: the quote is on this page" : ("Dropped: " + (reason || "the quote is not on the cited page"));
    const n = document.createElement("span");
    n.className = "n";
    n.textContent = "[" + c.n + "]";
    const label = document.createElement("span");
    label.textContent = (c.cite ? c.cite + " — " : "") + c.document + ", p. " + c.page + (c.verified ? "" : " — not verified");
    a.append(n, label);
    return a;
  }

  function renderAnswer(el, text) {
    // Plain text with [n] markers turned into links to the matching chip.
    el.textContent = "";
    const parts = text.split(/(\[\d{1,4}\])/);
    parts.forEach((part) => {
      const m = /^\[(\d{1,4})\]$/.exec(part);
      if (m) {
        const ref = document.createElement("span");
        ref.className = "ref";
        ref.textContent = part;
        ref.dataset.n = m[1];
        el.append(ref);
      } else if (part) {
        el.append(document.createTextNode(part));
      }
    });
  }

  function parseFrames(buffer, onEvent) {
    let at;
    while ((at = buffer.indexOf("\n\n")) >= 0) {
      const frame = buffer.slice(0, at);
      buffer = buffer.slice(at + 2);
      let name = "message", data = "";
      frame.split("\n").forEach((line) => {
        if (line.startsWith("event: ")) name = line.slice(7);
        else if (line.startsWith("data: ")) data += line.slice(6);
      });
      if (data) onEvent(name, JSON.parse(data));
    }
    return buffer;
  }

  function newTurn(question) {
    const turn = document.createElement("article");
    turn.className = "turn";
    const q = document.createElement("div");
    q.className = "question";
    q.textContent = question;
    const steps = document.createElement("ul");
    steps.className = "steps";
    steps.setAttribute("aria-label", "Steps");
    const answer = document.createElement("div");
    answer.className = "answer streaming";
    answer.setAttribute("aria-live", "polite");
    const claims = document.createElement("ul");
    claims.className = "claims";
    const chips = document.createElement("div");
    chips.className = "chips";
    turn.append(q, steps, answer, claims, chips);
    document.getElementById("chat").append(turn);
    return { turn, steps, answer, claims, chips };
  }

  function step(t, text) {
    const li = document.createElement("li");
    li.textContent = text;
    t.steps.append(li);
  }

  const TOOL_LABELS = { search_documents: "Searching the documents", extract_clauses: "Reading the contract's clauses",
    run_python: "Calculating" };

  function handleAskEvent(t, state, name, data) {
    if (name === "status") { if (data.stage !== "retrieving") step(t, data.message); }  // the tool call says it
    else if (name === "tool_call") step(t, (TOOL_LABELS[data.name] || ("Running " + data.name)) + "…");
    else if (name === "tool_result") step(t, (data.is_error ? "Failed: " : "Done: ") + (data.summary || data.name));
    else if (name === "token") { state.text += data.text; t.answer.textContent = state.text; }
    else if (name === "citation") t.chips.append(chip(data.citation, data.reason));
    else if (name === "claim") {
      const li = document.createElement("li");
      li.className = data.supported ? "supported" : "unsupported";
      li.textContent = (data.supported ? "✓ " : "✗ ") + data.text + (data.supported || !data.reason ? "" : " — " + data.reason);
      t.claims.append(li);
    } else if (name === "answer") {
      state.checked = (data.text ?? data.answer ?? "");
      renderAnswer(t.answer, state.checked);
      if (data.retracted) step(t, "The claim check corrected the streamed text: what is shown now is the checked answer.");
    } else if (name === "done") {
      if (data.session_id) document.getElementById("session_id").value = data.session_id;
      const final = state.checked ?? (data.answer || state.text);
      renderAnswer(t.answer, final);
    } else if (name === "error") {
      const p = document.createElement("p");
      p.className = "error";
      p.textContent = data.message || "The answer could not be completed.";
      t.turn.append(p);
    }
  }

  async function ask(form) {
    const question = form.question.value.trim();
    if (!question) return;
    const docs = Array.from(document.querySelectorAll("input[name=doc][form=ask-form]:checked")).map((i) => i.value);
    const t = newTurn(question);
    const state = { text: "", checked: null };
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    form.question.value = "";
    try {
      const response = await fetch("/ask/stream", {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf(), "Accept": "text/event-stream" },
        body: JSON.stringify({ question, session_id: form.session_id.value, document_ids: docs.length ? docs : null }),
      });
      if (!response.ok) {
        let msg = "The question could not be sent (" + response.status + ").";
        try { msg = (await response.json()).error || msg; } catch (e) { /* not JSON */ }
        handleAskEvent(t, state, "error", { message: msg });
        return;
      }
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer = parseFrames(buffer + decoder.decode(value, { stream: true }), (n, d) => handleAskEvent(t, state, n, d));
      }
    } catch (e) {
      handleAskEvent(t, state, "error", { message: "The connection to the server was lost." });
    } finally {
      t.answer.classList.remove("streaming");
      button.disabled = false;
      form.question.focus();
    }
  }

  // Replays already-received events into a new turn (the same code path as a
  // live answer); the browser tests use it to check claim/answer handling.
  function replayTurn(question, events) {
    const t = newTurn(question);
    const state = { text: "", checked: null };
    events.forEach(([name, data]) => handleAskEvent(t, state, name, data));
    t.answer.classList.remove("streaming");
    return t.answer.textContent;
  }

  function setupAsk() {
    const form = document.getElementById("ask-form");
    if (!form) return;
    window.dossierReplayTurn = replayTurn;
    form.addEventListener("submit", (ev) => { ev.preventDefault(); ask(form); });
    form.question.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); ask(form); }
    });
  }

  // -- jobs shown on a page (reviews, summaries): reload when they end --------
  function setupJobWatch() {
    const el = document.querySelector("[data-watch-job]");
    if (!el) return;
    const source = new EventSource("/jobs/" + encodeURIComponent(el.dataset.watchJob) + "/events");
    const label = el.querySelector(".job-stage");
    source.addEventListener("progress", (ev) => {
      const job = JSON.parse(ev.data);
      if (label) label.textContent = job.stage + (job.result && job.result.progress ? " (" + job.result.progress.done + " of " + job.result.progress.total + ")" : "");
    });
    const end = () => { source.close(); window.location.reload(); };
    source.addEventListener("done", end);
    source.addEventListener("failed", end);
  }

  function setupButtons() {
    document.querySelectorAll("form[data-confirm]").forEach((f) => f.addEventListener("submit", (ev) => {
      if (!window.confirm(f.dataset.confirm)) ev.preventDefault();
    }));
    document.querySelectorAll("[data-print]").forEach((b) => b.addEventListener("click", () => window.print()));
    document.querySelectorAll("[data-copy]").forEach((b) => b.addEventListener("click", () => {
      const target = document.getElementById(b.dataset.copy);
      if (target && navigator.clipboard) navigator.clipboard.writeText(target.textContent.trim());
      b.textContent = "Copied";
    }));
  }

  document.addEventListener("DOMContentLoaded", () => {
    placeHighlights();
    setupUpload();
    setupAsk();
    setupJobWatch();
    setupButtons();
  });
})();
