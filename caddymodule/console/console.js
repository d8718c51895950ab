// Data gateway console: reads the admin endpoint's JSON routes and renders
// them. Every value from the server goes into the page through textContent,
// never as markup, so a hostile value in the catalogue or the audit trail
// cannot run script here.
const base = "/data_gateway";
const pollMillis = 2000;
// Filters that may appear in the page URL. The raw subject never does,
// because Caddy's admin endpoint logs request URIs and referrers.
const urlFilters = ["consumer", "org", "resource", "subject_kind", "subject_hash",
  "decision", "status", "since", "until", "limit", "newest"];

const byID = (id) => document.getElementById(id);

function showError(message) {
  const box = byID("error");
  box.textContent = message;
  box.hidden = message === "";
}

// requestJSON fetches a JSON route. A non-2xx reply throws with the message
// from Caddy's error body.
async function requestJSON(path, options) {
  const reply = await fetch(path, Object.assign({
    credentials: "same-origin",
    headers: { "Accept": "application/json" },
  }, options));
  let body = null;
  try {
    body = await reply.json();
  } catch (err) {
    body = null;
  }
  if (!reply.ok) {
    const detail = body && typeof body.error === "string" ? body.error : reply.statusText;
    throw new Error(path + ": " + reply.status + " " + detail);
  }
  return body;
}

// row appends a table row with one cell per value; an array value is
// [text, className].
function row(tbody, values, attrs) {
  const tr = document.createElement("tr");
  for (const [name, value] of Object.entries(attrs || {})) {
    tr.setAttribute(name, String(value));
  }
  for (const value of values) {
    const td = document.createElement("td");
    if (Array.isArray(value)) {
      td.textContent = String(value[0]);
      td.className = value[1];
    } else {
      td.textContent = value === undefined || value === null ? "" : String(value);
    }
    tr.appendChild(td);
  }
  tbody.appendChild(tr);
  return tr;
}

function clear(node) {
  while (node.firstChild) {
    node.removeChild(node.firstChild);
  }
}

function list(values) {
  return Array.isArray(values) ? values.join(", ") : "";
}

function resourceNotes(r) {
  const notes = [];
  if (r.legal_basis) {
    notes.push("not shared: " + r.legal_basis);
  }
  const c = r.conditions;
  if (c) {
    if (c.scenarios && c.scenarios.length) notes.push("scenarios: " + list(c.scenarios));
    if (c.orgs && c.orgs.length) notes.push("organisations: " + list(c.orgs));
    if (c.key_work) notes.push("key work only");
    if (c.platform) notes.push("platforms only");
  }
  const o = r.open_conditions;
  if (o) {
    if (o.allowed_scenarios && o.allowed_scenarios.length) notes.push("open for: " + list(o.allowed_scenarios));
    if (o.forbidden_scenarios && o.forbidden_scenarios.length) notes.push("not for: " + list(o.forbidden_scenarios));
    if (o.credit_check === false) notes.push("no credit check");
  }
  if (r.emergency) {
    notes.push("emergency " + r.emergency.event + " (" + r.emergency_state + ", until " + r.emergency.end + ")");
  }
  return notes.join("; ");
}

const grantStates = { valid: "valid", expired: "expired", not_yet_valid: "not yet valid" };

async function loadCatalogue() {
  const cat = await requestJSON(base + "/console/catalogue");
  byID("catalogue-version").textContent = cat.version;
  byID("policy-version").textContent = cat.policy_version;

  const providers = new Map(cat.providers.map((p) => [p.id, p.name]));
  const resources = byID("resource-rows");
  clear(resources);
  for (const r of cat.resources) {
    const provider = providers.get(r.provider) ? r.provider + " (" + providers.get(r.provider) + ")" : r.provider;
    row(resources, [r.id, r.name, provider, r.path_prefix, [r.share, "share-" + r.share],
      [r.open, "open-" + r.open], list(r.field_classes), resourceNotes(r)], { "data-resource": r.id });
  }

  const grants = byID("grant-rows");
  clear(grants);
  for (const g of cat.grants) {
    row(grants, [g.id, g.kind, g.consumer, g.resource, g.scenario, g.valid_from, g.valid_until,
      [grantStates[g.state] || g.state, "state-" + g.state]], { "data-grant": g.id, "data-state": g.state });
  }
}

function renderDecisions(stats) {
  const tbody = byID("decision-rows");
  clear(tbody);
  const resources = Object.keys(stats.decisions || {}).sort();
  for (const id of resources) {
    const counts = stats.decisions[id];
    row(tbody, [id || "(none)", counts.allow || 0, counts.deny || 0, counts.error || 0], { "data-resource": id });
  }
  byID("total-allow").textContent = String(stats.totals.allow || 0);
  byID("total-deny").textContent = String(stats.totals.deny || 0);
  byID("total-error").textContent = String(stats.totals.error || 0);

  const a = stats.audit;
  let state = "writing to Redis";
  if (a.unavailable) {
    state = "UNAVAILABLE: requests are refused";
  } else if (a.spooling) {
    state = "spooling to disk (" + a.spool_bytes + " bytes)";
  }
  byID("audit-status").textContent = "Audit stream " + a.stream + ": " + state + ", " +
    a.written + " records written, " + a.queued + " queued.";
}

function outcome(o) {
  if (!o) return "";
  if (o.error) return "error: " + o.error;
  const verdict = o.allow ? "allow" : "deny";
  return o.reasons && o.reasons.length ? verdict + " (" + o.reasons.join("; ") + ")" : verdict;
}

function renderDisagreements(stats) {
  byID("dry-run-version").textContent = stats.dry_run_policy_version || "none";
  const tbody = byID("disagreement-rows");
  clear(tbody);
  for (const d of stats.disagreements) {
    row(tbody, [d.time, d.request_id, d.consumer, d.resource, d.scenario,
      outcome(d.enforced), outcome(d.candidate), list(d.differences)], { "data-request-id": d.request_id });
  }
  let total = 0;
  for (const n of Object.values(stats.disagreement_counts || {})) {
    total += n;
  }
  byID("disagreement-count").textContent = total + " disagreements since the gateway started";
}

async function pollStats() {
  try {
    const stats = await requestJSON(base + "/console/stats");
    renderDecisions(stats);
    renderDisagreements(stats);
    byID("updated").textContent = stats.time;
    showError("");
  } catch (err) {
    showError(err.message);
  } finally {
    setTimeout(pollStats, pollMillis);
  }
}

// Search state: the filters of the last search and the cursor to go on.
let lastQuery = null;

function formQuery() {
  const form = byID("search-form");
  const data = new FormData(form);
  const query = { newest: data.get("newest") === "true" };
  for (const name of ["consumer", "org", "resource", "subject", "subject_kind", "subject_hash",
    "decision", "status", "since", "until", "limit"]) {
    query[name] = String(data.get(name) || "").trim();
  }
  return query;
}

// searchURL returns the page URL for a query, without the raw subject.
function searchURL(query) {
  const params = new URLSearchParams();
  for (const name of urlFilters) {
    let value = query[name];
    if (name === "newest") {
      value = query.newest ? "true" : "";
    }
    if (value) params.set(name, value);
  }
  const text = params.toString();
  return location.pathname + (text ? "?" + text : "");
}

async function search(query, after) {
  const status = byID("search-status");
  const tbody = byID("search-rows");
  const more = byID("search-more");
  status.textContent = "Searching…";
  try {
    const body = Object.assign({}, query, { after: after || "" });
    const res = await requestJSON(base + "/audit", {
      method: "POST",
      headers: { "Accept": "application/json", "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    if (!after) clear(tbody);
    for (const h of res.records) {
      row(tbody, [h.time, h.id, h.consumer, h.resource, h.scenario, [h.decision, "decision-" + h.decision],
        h.status, h.subject, (h.reasons || []).join("; ")], { "data-request-id": h.id, "class": "hit" });
    }
    const shown = tbody.rows.length;
    status.textContent = shown + " records found, " + res.scanned + " entries read" +
      (res.invalid ? ", " + res.invalid + " invalid entries skipped" : "") + ".";
    status.setAttribute("data-count", String(shown));
    lastQuery = query;
    more.hidden = !res.next;
    more.dataset.after = res.next || "";
  } catch (err) {
    status.textContent = "Search failed: " + err.message;
    status.removeAttribute("data-count");
  }
}

function fillFormFromURL() {
  const params = new URLSearchParams(location.search);
  let any = false;
  const form = byID("search-form");
  for (const name of urlFilters) {
    if (!params.has(name)) continue;
    any = true;
    const field = form.elements.namedItem(name);
    if (name === "newest") {
      field.checked = params.get(name) === "true";
    } else if (field) {
      field.value = params.get(name);
    }
  }
  if (any && !params.has("newest")) {
    form.elements.namedItem("newest").checked = false;
  }
  return any;
}

function start() {
  byID("search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const query = formQuery();
    history.replaceState(null, "", searchURL(query));
    search(query, "");
  });
  byID("search-more").addEventListener("click", () => {
    if (lastQuery) search(lastQuery, byID("search-more").dataset.after);
  });

  loadCatalogue().catch((err) => showError(err.message));
  pollStats();
  if (fillFormFromURL()) {
    search(formQuery(), "");
  }
}

// A module script runs after the document is parsed.
start();
