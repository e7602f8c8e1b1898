/* imapscope --html: draws the page from the JSON in #imapscope-data.
 * Every string from the capture is attacker-controlled: it reaches the DOM
 * only as textContent (or an SVG <title>'s), never as markup or as an
 * attribute that the browser would interpret. */
"use strict";
(function () {
  const SVGNS = "http://www.w3.org/2000/svg";
  const MAX_LANES = 300;      // timeline rows
  const MAX_ROWS = 500;       // table rows drawn; the rest via sort and filter
  const OUTCOMES = {
    ok: "logged in, clean", errors: "NO/BAD answers", login_failed: "login failed",
    damaged: "gaps or caps", encrypted: "TLS not decrypted", no_login: "no login seen",
  };
  const D = JSON.parse(document.getElementById("imapscope-data").textContent);
  const byId = new Map();
  D.sessions.forEach((s) => byId.set(s.id, s));
  const state = { filter: { user: "", client: "", mailbox: "", command: "", status: "" },
    sort: { key: "id", dir: 1 }, lsort: { key: "ts", dir: 1 }, current: null };

  /* ---- DOM helpers: text only ---- */
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function svg(tag, attrs, cls) {
    const e = document.createElementNS(SVGNS, tag);
    for (const k in attrs) e.setAttribute(k, typeof attrs[k] === "number" ? attrs[k].toFixed(1) : attrs[k]);
    if (cls) e.setAttribute("class", cls);
    return e;
  }
  /* Ladder labels are cut to fit between the columns; the whole text is
   * the tooltip. */
  function stext(x, y, text, cls, anchor, max) {
    const t = svg("text", { x: x, y: y }, cls);
    if (anchor) t.setAttribute("text-anchor", anchor);
    text = String(text);
    if (max && text.length > max) { t.textContent = text.slice(0, max - 1) + "\u2026"; tip(t, text); }
    else t.textContent = text;
    return t;
  }
  function tip(node, text) {
    const t = document.createElementNS(SVGNS, "title");
    t.textContent = text;
    node.appendChild(t);
    return node;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function iso(us) { return new Date(us / 1000).toISOString().replace("T", " ").replace("Z", ""); }
  function clock(us, span) { return iso(us).slice(11, span < 60e6 ? 23 : 19); }
  function dur(us) {
    const s = us / 1e6;
    if (s < 1) return (us / 1000).toFixed(1) + " ms";
    if (s < 120) return s.toFixed(2) + " s";
    if (s < 7200) return (s / 60).toFixed(1) + " min";
    return (s / 3600).toFixed(1) + " h";
  }
  function ms(v) { return v === null || v === undefined ? "" : v < 10 ? v.toFixed(2) + " ms" : v < 10000 ? v.toFixed(0) + " ms" : (v / 1000).toFixed(1) + " s"; }
  function bytes(n) {
    const u = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : String(n)) + " " + u[i];
  }
  function host(addr) { const i = addr.lastIndexOf(":"); return i > 0 ? addr.slice(0, i) : addr; }
  function lc(v) { return v === null || v === undefined ? "" : String(v).toLowerCase(); }

  /* ---- filter ---- */
  function matches(s) {
    const f = state.filter;
    if (f.user && !lc(s.user).includes(f.user)) return false;
    if (f.client && !lc(s.client).includes(f.client)) return false;
    if (f.mailbox && !s.mailboxes.some((m) => lc(m).includes(f.mailbox))) return false;
    if (f.command && !Object.keys(s.cmds).some((c) => lc(c).includes(f.command))) return false;
    if (f.status && s.outcome !== f.status) return false;
    return true;
  }
  function shown() { return D.sessions.filter(matches); }

  /* ---- overview ---- */
  function overview() {
    const c = D.capture;
    document.getElementById("range").textContent = D.sessions.length
      ? iso(c.first) + " \u2013 " + iso(c.last) + " (" + dur(c.last - c.first) + ")" : "no IMAP session";
    const users = new Set(), clients = new Set(), servers = new Set(), transports = {};
    let c2s = 0, s2c = 0, no = 0, bad = 0, gaps = 0, notices = 0, cmds = 0, okl = 0, fl = 0;
    let dec = 0, undec = 0, comp = 0;
    for (const s of D.sessions) {
      if (s.user !== null) users.add(s.user);
      clients.add(host(s.client)); servers.add(s.server);
      transports[s.transport] = (transports[s.transport] || 0) + 1;
      c2s += s.bytes_c2s; s2c += s.bytes_s2c; no += s.no; bad += s.bad; gaps += s.gaps;
      notices += s.notices; cmds += s.commands; okl += s.logins_ok; fl += s.logins_failed;
      if (s.tls) { if (s.tls.decrypted) dec++; else undec++; }
      if (s.compressed) comp++;
    }
    const cards = document.getElementById("cards");
    const add = (k, v, label) => {
      const d = el("div", "card"); d.dataset.k = k;
      d.appendChild(el("b", null, v)); d.appendChild(el("span", null, label)); cards.appendChild(d);
    };
    add("sessions", D.sessions.length, D.sessions_untracked ? "sessions (+" + D.sessions_untracked + " past the limit)" : "sessions");
    add("users", users.size, "users"); add("clients", clients.size, "client hosts");
    add("servers", servers.size, "servers"); add("commands", cmds, "commands");
    add("bytes", bytes(c2s) + " / " + bytes(s2c), "client \u2192 server / back");
    add("transports", Object.keys(transports).map((t) => t + " " + transports[t]).join(", ") || "\u2013", "transports");
    add("tls", dec + " / " + undec, "TLS decrypted / not");
    add("compressed", comp, "compressed");
    add("logins", okl + " / " + fl, "logins ok / failed");
    add("errors", no + " / " + bad, "NO / BAD");
    add("gaps", gaps + " / " + notices, "gaps / notices");
    const L = D.limits;
    document.getElementById("limits").textContent = "Limits of this page: a session's ladder shows its first " +
      L.ladder_events + " events in full, then only TLS, COMPRESS, logins, gaps, notices and NO/BAD answers (" +
      L.ladder_extra + " more at most); every ladder at most " + bytes(L.ladder_bytes) + "; once all of them hold " +
      bytes(L.ladders_bytes) + ", the next sessions keep only their first " + L.ladder_late + " events, until " +
      bytes(L.ladders_hard) + "; wire text cut at " + L.text + " bytes; " + L.sessions + " sessions; " +
      "latency per command counts every completion (" + D.completions_timed + " timed), latency over time shows a uniform sample of at most " +
      L.latency_points + "; " + L.logins + " logins" + (D.logins_omitted ? " (" + D.logins_omitted + " left out)" : "") + ".";
  }

  /* ---- the session timeline ---- */
  function legend() {
    const lg = document.getElementById("legend"), sel = document.getElementById("f-status");
    for (const k in OUTCOMES) {
      const sp = el("span"); sp.appendChild(el("i", "o-" + k)); sp.appendChild(document.createTextNode(OUTCOMES[k]));
      lg.appendChild(sp);
      const o = el("option", null, OUTCOMES[k]); o.value = k; sel.appendChild(o);
    }
  }
  function gantt(list) {
    const box = document.getElementById("gantt"); clear(box);
    if (!list.length) { box.appendChild(el("p", "note", "no session")); return; }
    const t0 = Math.min(...list.map((s) => s.start)), t1 = Math.max(...list.map((s) => s.end), t0 + 1);
    const sorted = list.slice().sort((a, b) => a.start - b.start || a.id - b.id);
    // first free lane; past MAX_LANES the lane that frees first (bars may
    // then overlap), so that thousands of sessions stay quick to draw
    const lanes = [], lane = new Map();
    for (const s of sorted) {
      let i = lanes.findIndex((end) => end < s.start);
      if (i < 0 && lanes.length < MAX_LANES) { i = lanes.length; lanes.push(0); }
      if (i < 0) i = lanes.reduce((best, end, k) => end < lanes[best] ? k : best, 0);
      lanes[i] = Math.max(lanes[i], s.end); lane.set(s, i);
    }
    const W = Math.max(900, box.clientWidth - 4), L = 60, R = 20;
    const rh = Math.max(3, Math.min(16, 560 / lanes.length)), H = lanes.length * rh + 30;
    const x = (t) => L + (t - t0) / (t1 - t0) * (W - L - R);
    const g = svg("svg", { width: W, height: H, viewBox: "0 0 " + W + " " + H });
    for (let i = 0; i <= 6; i++) {
      const t = t0 + (t1 - t0) * i / 6, xx = x(t);
      g.appendChild(svg("line", { x1: xx, y1: 0, x2: xx, y2: H - 18 }, "grid"));
      g.appendChild(stext(xx, H - 4, clock(t, t1 - t0), null, i === 0 ? "start" : i === 6 ? "end" : "middle"));
    }
    for (const s of sorted) {
      const r = svg("rect", { x: x(s.start), y: lane.get(s) * rh + 1, width: Math.max(2, x(s.end) - x(s.start)),
        height: Math.max(2, rh - 2) }, "bar o-" + s.outcome);
      r.dataset.session = s.id;
      tip(r, "session " + s.id + "  " + s.client + " \u2192 " + s.server + "  " + (s.user === null ? "" : s.user) +
        "\n" + OUTCOMES[s.outcome] + ", " + s.commands + " commands, " + dur(s.end - s.start) +
        (s.max_ms !== null ? "\nslowest: " + s.max_cmd + " " + ms(s.max_ms) : ""));
      r.addEventListener("click", () => openSession(s.id));
      g.appendChild(r);
    }
    box.appendChild(g);
  }

  /* ---- sortable tables ---- */
  function table(tbl, cols, rows, sort, onSort, rowFn) {
    clear(tbl);
    const thead = el("thead"), tr = el("tr");
    for (const c of cols) {
      const th = el("th", c.num ? "num" : null, c.label);
      if (sort.key === c.key) th.classList.add(sort.dir > 0 ? "sorted-asc" : "sorted-desc");
      th.addEventListener("click", () => { onSort(c.key); });
      tr.appendChild(th);
    }
    thead.appendChild(tr); tbl.appendChild(thead);
    const col = cols.find((c) => c.key === sort.key) || cols[0];
    const val = col.sortv || ((r) => r[col.key]);
    rows = rows.slice().sort((a, b) => {
      const va = val(a), vb = val(b);
      if (va === vb) return 0;
      if (va === null || va === undefined) return 1;
      if (vb === null || vb === undefined) return -1;
      return (va < vb ? -1 : 1) * sort.dir;
    });
    const tb = el("tbody");
    for (const r of rows.slice(0, MAX_ROWS)) {
      const row = el("tr");
      for (const c of cols) row.appendChild(el("td", c.num ? "num" : null, c.show ? c.show(r) : r[c.key]));
      rowFn(row, r);
      tb.appendChild(row);
    }
    tbl.appendChild(tb);
    return rows.length;
  }
  function toggle(s, key) { if (s.key === key) s.dir = -s.dir; else { s.key = key; s.dir = 1; } }

  const SCOLS = [
    { key: "id", label: "#", num: true },
    { key: "start", label: "start", show: (s) => iso(s.start).slice(0, 23) },
    { key: "dur", label: "duration", num: true, sortv: (s) => s.end - s.start, show: (s) => dur(s.end - s.start) },
    { key: "client", label: "client" }, { key: "server", label: "server" },
    { key: "user", label: "user" }, { key: "transport", label: "transport" },
    { key: "commands", label: "commands", num: true }, { key: "no", label: "NO", num: true },
    { key: "bad", label: "BAD", num: true },
    { key: "max_ms", label: "slowest", num: true, show: (s) => ms(s.max_ms) },
    { key: "max_cmd", label: "on command", show: (s) => s.max_cmd === undefined ? "" : s.max_cmd + " (" + s.max_tag + ")" },
    { key: "outcome", label: "outcome", show: (s) => OUTCOMES[s.outcome] },
  ];
  function sessionsTable(list) {
    table(document.getElementById("sessions-table"), SCOLS, list, state.sort,
      (k) => { toggle(state.sort, k); sessionsTable(shown()); }, (row, s) => {
        row.dataset.session = s.id;
        if (s.outcome === "login_failed") row.className = "fail";
        if (state.current === s.id) row.classList.add("selected");
        row.addEventListener("click", () => openSession(s.id));
      });
    document.getElementById("sessions-note").textContent = list.length + " of " + D.sessions.length +
      " sessions match" + (list.length > MAX_ROWS ? " (the first " + MAX_ROWS + " in this order are drawn)" : "") +
      "; click a row or a bar to open its ladder; sort by \u201cslowest\u201d to find the slow one.";
  }

  /* ---- one session: facts and ladder ---- */
  function facts(s) {
    const box = document.getElementById("session-facts"); clear(box);
    const f = (k, v) => { const sp = el("span"); sp.appendChild(el("b", null, k)); sp.appendChild(document.createTextNode(v)); box.appendChild(sp); };
    f("client", s.client); f("server", s.server); f("user", s.user === null ? "\u2013" : s.user);
    f("start", iso(s.start)); f("duration", dur(s.end - s.start)); f("end", s.end_reason);
    f("transport", s.transport + (s.tls ? " (TLS " + (s.tls.version || "?") + (s.tls.decrypted ? ", decrypted" : ", not decrypted" + (s.tls.reason ? ": " + s.tls.reason : "")) + ")" : "") + (s.compressed ? ", compressed" : ""));
    f("commands", s.commands + " (OK " + s.ok + ", NO " + s.no + ", BAD " + s.bad + ")");
    f("untagged", s.untagged); f("bytes", bytes(s.bytes_c2s) + " \u2192, " + bytes(s.bytes_s2c) + " \u2190");
    f("gaps", s.gaps + " (" + bytes(s.gap_bytes) + ")"); f("notices", s.notices);
    if (s.max_ms !== null) f("slowest", s.max_cmd + " " + s.max_tag + ": " + ms(s.max_ms));
    if (s.mailboxes.length) f("mailboxes", s.mailboxes.join(", "));
    if (s.omitted) f("not drawn", s.omitted + " events past the page's limit");
  }
  function litBlock(g, x, y, n, dir) {
    const w = Math.min(120, 6 + 8 * Math.log2(1 + n / 1024));
    const r = svg("rect", { x: dir > 0 ? x : x - w, y: y - 5, width: w, height: 10 }, "lit");
    tip(r, "literal " + bytes(n)); g.appendChild(r);
  }
  function arrow(g, x1, x2, y, cls, dashed) {
    const l = svg("line", { x1: x1, y1: y, x2: x2, y2: y }, cls);
    if (dashed) l.setAttribute("stroke-dasharray", "4 3");
    g.appendChild(l);
    const d = x2 > x1 ? -7 : 7;
    g.appendChild(svg("path", { d: "M" + x2 + " " + y + " l" + d + " -4 l0 8 z" }, cls));
  }
  function ladder(s) {
    const box = document.getElementById("ladder"); clear(box);
    const W = 1100, TX = 8, CX = 240, SX = 760, RH = 20, TOP = 30;
    const rows = s.ladder.length + (s.omitted ? 1 : 0);
    const H = TOP + rows * RH + 20;
    const g = svg("svg", { width: W, height: H, viewBox: "0 0 " + W + " " + H });
    g.appendChild(stext(CX, 16, "client " + s.client, null, "middle"));
    g.appendChild(stext(SX, 16, "server " + s.server, null, "middle"));
    g.appendChild(svg("line", { x1: CX, y1: TOP - 6, x2: CX, y2: H - 10 }, "life"));
    g.appendChild(svg("line", { x1: SX, y1: TOP - 6, x2: SX, y2: H - 10 }, "life"));
    const cmdRow = new Map();
    const slowest = s.max_ms;
    s.ladder.forEach((e, i) => {
      const y = TOP + i * RH + RH / 2, label = [];
      const tl = g.appendChild(stext(TX, y + 4, "+" + (e.t / 1e6).toFixed(3) + " s"));
      tip(tl, iso(s.start + e.t) + (e.f ? "\nframe " + e.f + (e.k === "login" ? " (the command)" : "") : ""));
      const band = (cls, text) => {
        g.appendChild(svg("rect", { x: 90, y: y - RH / 2 + 1, width: W - 100, height: RH - 2 }, cls));
        g.appendChild(stext((CX + SX) / 2, y + 4, text, null, "middle", 140));
      };
      switch (e.k) {
        case "greeting":
          arrow(g, SX, CX, y, "s2c");
          g.appendChild(stext(SX - 10, y - 3, "* " + e.status + " " + (e.text || ""), null, "end", 80));
          break;
        case "command":
          arrow(g, CX, SX, y, "c2s");
          g.appendChild(stext(CX + 10, y - 3, e.tag + " " + e.name + " " + (e.args || ""), null, null, 80));
          if (e.lit) litBlock(g, CX + 2, y + 5, e.lit, 1);
          cmdRow.set(e.tag, y);
          break;
        case "untagged": {
          arrow(g, SX, CX, y, "untagged");
          const t = g.appendChild(stext(SX - 10, y - 3, "* " + e.name + (e.n > 1 ? " \u00d7" + e.n : "") + (e.lit ? " (" + bytes(e.lit) + " in literals)" : ""), null, "end", 80));
          if (e.tag != null) tip(t, "answers " + e.tag);
          if (e.lit) litBlock(g, SX - 2, y + 5, e.lit, -1);
          break;
        }
        case "response": {
          const st = e.status === "OK" || e.status === "NO" || e.status === "BAD" ? e.status : "BAD";
          arrow(g, SX, CX, y, "st-" + st);
          const slow = e.ms !== undefined && slowest !== null && e.tag === s.max_tag && Math.abs(e.ms - slowest) < 0.0005;
          label.push(e.tag + " " + e.status + " " + (e.name == null ? "" : e.name) + (e.code != null ? " [" + e.code + "]" : ""));
          if (e.ms !== undefined) label.push("\u2014 " + ms(e.ms));
          const t = stext(CX + 10, y - 3, label.join(" "), slow ? "slow" : null, null, 80);
          tip(t, label.join(" ") + "\n" + (e.text || "")); g.appendChild(t);
          const y0 = cmdRow.get(e.tag);
          if (y0 !== undefined && e.ms !== undefined) {
            const l = svg("line", { x1: SX + 14, y1: y0, x2: SX + 14, y2: y }, "lat");
            tip(l, e.tag + " " + (e.name || "") + ": " + ms(e.ms)); g.appendChild(l);
            g.appendChild(stext(SX + 20, y + 4, ms(e.ms), slow ? "slow" : null));
          }
          break;
        }
        case "continuation":
          if (e.dir === "c2s") arrow(g, CX, SX, y, "c2s", true); else arrow(g, SX, CX, y, "s2c", true);
          g.appendChild(stext((CX + SX) / 2, y - 3, "+ " + e.kind, null, "middle"));
          break;
        case "login":
          band(e.result === "ok" ? "band-login-ok" : "band-login-fail", "login " + (e.user === null ? "(user unknown)" : e.user) +
            (e.mechanism !== null ? " via " + e.mechanism : "") + ": " + e.result + (e.cleartext ? ", password in clear" : "") +
            (e.after_starttls ? ", after STARTTLS OK" : "") + (e.inferred ? ", inferred" : ""));
          break;
        case "tls":
          band("band-tls", "TLS begins (" + e.phase + ")" + (e.version ? " " + e.version : "") + (e.sni !== null ? " SNI " + e.sni : "") +
            (e.decrypted ? ", decrypted" : ", not decrypted" + (e.reason ? ": " + e.reason : "")));
          break;
        case "compress":
          band("band-compress", "COMPRESS " + e.algorithm + " begins" + (e.decoded ? "" : ", not decoded"));
          break;
        case "gap":
          band("band-gap", "gap: " + bytes(e.bytes) + " lost " + (e.dir === "c2s" ? "client \u2192 server" : "server \u2192 client"));
          break;
        case "notice":
          band("band-notice", "notice " + e.kind + ": " + e.text);
          break;
        default:
          g.appendChild(stext(CX + 10, y + 4, e.k));
      }
    });
    if (s.omitted) g.appendChild(stext((CX + SX) / 2, TOP + s.ladder.length * RH + 14, s.omitted + " more events not drawn (the page's limit)", "slow", "middle"));
    box.appendChild(g);
  }
  function openSession(id) {
    const s = byId.get(id);
    if (!s) return;
    state.current = id;
    document.getElementById("session-title").textContent = id + ": " + s.client + " \u2192 " + s.server;
    facts(s); ladder(s);
    for (const tr of document.querySelectorAll("#sessions-table tbody tr"))
      tr.classList.toggle("selected", Number(tr.dataset.session) === id);
    if (location.hash !== "#session-" + id) history.replaceState(null, "", "#session-" + id);
    document.getElementById("session").scrollIntoView();
  }

  /* ---- latency ---- */
  function quantiles(c) {
    const total = c.hist.reduce((a, b) => a + b, 0), mid = (i) => D.limits.lat_min_us * Math.pow(2, (i + 0.5) / 2) / 1000;
    const q = (p) => {
      let acc = 0;
      for (let i = 0; i < c.hist.length; i++) { acc += c.hist[i]; if (acc >= p * total) return Math.min(c.max_ms, Math.max(c.min_ms, mid(i))); }
      return c.max_ms;
    };
    return { p5: q(0.05), p25: q(0.25), p50: q(0.5), p75: q(0.75), p95: q(0.95) };
  }
  function logScale(lo, hi, x0, x1) {
    lo = Math.max(lo, 0.001); hi = Math.max(hi, lo * 10);
    const a = Math.log10(lo), b = Math.log10(hi);
    return { f: (v) => x0 + (Math.log10(Math.max(v, lo)) - a) / (b - a) * (x1 - x0), lo: lo, hi: hi };
  }
  function ticks(g, sc, y0, y1, vertical) {
    for (let e = Math.floor(Math.log10(sc.lo)); e <= Math.ceil(Math.log10(sc.hi)); e++) {
      const v = Math.pow(10, e);
      if (v < sc.lo || v > sc.hi) continue;
      const p = sc.f(v);
      if (vertical) { g.appendChild(svg("line", { x1: y0, y1: p, x2: y1, y2: p }, "grid")); g.appendChild(stext(y0 - 4, p + 4, ms(v), null, "end")); }
      else { g.appendChild(svg("line", { x1: p, y1: y0, x2: p, y2: y1 }, "grid")); g.appendChild(stext(p, y1 + 12, ms(v), null, "middle")); }
    }
  }
  function boxplot() {
    const box = document.getElementById("boxplot"); clear(box);
    const cmds = D.commands.filter((c) => c.timed > 0).sort((a, b) => b.max_ms - a.max_ms);
    if (!cmds.length) { box.appendChild(el("p", "note", "no command with a measured latency")); return; }
    const W = 1100, L = 300, R = 30, RH = 22, H = cmds.length * RH + 40;
    const sc = logScale(Math.min(...cmds.map((c) => c.min_ms)), Math.max(...cmds.map((c) => c.max_ms)), L, W - R);
    const g = svg("svg", { width: W, height: H, viewBox: "0 0 " + W + " " + H });
    ticks(g, sc, 4, H - 24, false);
    cmds.forEach((c, i) => {
      const y = 10 + i * RH + RH / 2, q = quantiles(c);
      g.appendChild(stext(8, y + 4, c.name + "  n=" + c.n + (c.no || c.bad ? "  NO " + c.no + " BAD " + c.bad : "")));
      g.appendChild(svg("line", { x1: sc.f(c.min_ms), y1: y, x2: sc.f(c.max_ms), y2: y }, "whisker"));
      const r = svg("rect", { x: sc.f(q.p25), y: y - 7, width: Math.max(1, sc.f(q.p75) - sc.f(q.p25)), height: 14 }, "box");
      tip(r, c.name + ": min " + ms(c.min_ms) + ", p25 " + ms(q.p25) + ", median " + ms(q.p50) + ", p75 " + ms(q.p75) +
        ", p95 " + ms(q.p95) + ", max " + ms(c.max_ms) + ", mean " + ms(c.sum_ms / c.timed) + " (" + c.timed + " timed)");
      g.appendChild(r);
      g.appendChild(svg("line", { x1: sc.f(q.p50), y1: y - 7, x2: sc.f(q.p50), y2: y + 7 }, "median"));
      g.appendChild(svg("line", { x1: sc.f(q.p95), y1: y - 4, x2: sc.f(q.p95), y2: y + 4 }, "whisker"));
      g.appendChild(stext(sc.f(c.max_ms) + 4, y + 4, ms(c.max_ms)));
    });
    box.appendChild(g);
  }
  function scatter() {
    const box = document.getElementById("scatter"); clear(box);
    const pts = D.latency;
    document.getElementById("latency-note").textContent = "Box: 25th to 75th percentile, bar: median, tick: 95th, line: min to max (from a log histogram of every completion). Points: " +
      pts.length + " of " + D.completions_timed + " timed completions, sampled uniformly; click a point to open its session.";
    if (!pts.length) return;
    const W = 1100, L = 70, R = 20, H = 320, B = 24;
    const t0 = Math.min(...pts.map((p) => p[0])), t1 = Math.max(...pts.map((p) => p[0]), t0 + 1);
    const sc = logScale(Math.min(...pts.map((p) => p[1])), Math.max(...pts.map((p) => p[1])), H - B, 8);
    const x = (t) => L + (t - t0) / (t1 - t0) * (W - L - R);
    const g = svg("svg", { width: W, height: H, viewBox: "0 0 " + W + " " + H });
    ticks(g, sc, L, W - R, true);
    for (let i = 0; i <= 6; i++) g.appendChild(stext(x(t0 + (t1 - t0) * i / 6), H - 6, clock(t0 + (t1 - t0) * i / 6, t1 - t0), null, "middle"));
    const names = D.commands.map((c) => c.name);
    for (const p of pts) {
      const name = names[p[3]] !== undefined ? names[p[3]] : "(other)";
      const hue = [...name].reduce((a, ch) => (a * 31 + ch.charCodeAt(0)) % 360, 7);
      const c = svg("circle", { cx: x(p[0]), cy: sc.f(p[1]), r: 2.5 }, "pt");
      c.setAttribute("fill", "hsl(" + hue + ",70%,40%)");
      tip(c, "session " + p[2] + ": " + name + " " + ms(p[1]) + " at " + iso(p[0]));
      c.addEventListener("click", () => openSession(p[2]));
      g.appendChild(c);
    }
    box.appendChild(g);
  }

  /* ---- logins ---- */
  function loginFlags() {
    const byClient = new Map(), byUser = new Map();
    for (const l of D.logins) {
      if (l.result !== "fail") continue;
      const c = host(l.client);
      byClient.set(c, (byClient.get(c) || 0) + 1);
      if (l.user !== null) byUser.set(l.user, (byUser.get(l.user) || 0) + 1);
    }
    for (const l of D.logins) {
      const f = [];
      if (l.cleartext) f.push("cleartext password");
      if (l.after_starttls) f.push("in clear after STARTTLS");
      if (l.inferred) f.push("inferred");
      const nc = byClient.get(host(l.client)) || 0, nu = l.user !== null ? byUser.get(l.user) || 0 : 0;
      if (nc >= 5) f.push(nc + " failures from this client");
      if (nu >= 5) f.push(nu + " failures for this user");
      l.flags = f.join(", ");
    }
  }
  const LCOLS = [
    { key: "ts", label: "time", show: (l) => iso(l.ts) }, { key: "session", label: "session", num: true },
    { key: "client", label: "client" }, { key: "server", label: "server" }, { key: "user", label: "user" },
    { key: "mechanism", label: "mechanism" }, { key: "result", label: "result" },
    { key: "transport", label: "transport" }, { key: "code", label: "code" }, { key: "flags", label: "flags" },
  ];
  function loginsTable() {
    const q = lc(document.getElementById("l-filter").value), only = document.getElementById("l-fail").checked;
    const ids = new Set(shown().map((s) => s.id));
    const rows = D.logins.filter((l) => ids.has(l.session) && (!only || l.result === "fail" || l.flags) &&
      (!q || [l.user, l.client, l.server, l.mechanism, l.result, l.code, l.text, l.flags].some((v) => lc(v).includes(q))));
    table(document.getElementById("logins-table"), LCOLS, rows, state.lsort,
      (k) => { toggle(state.lsort, k); loginsTable(); }, (row, l) => {
        row.dataset.session = l.session;
        if (l.result === "fail") row.className = "fail"; else if (l.flags) row.className = "flag";
        row.addEventListener("click", () => openSession(l.session));
      });
    document.getElementById("l-count").textContent = rows.length + " of " + D.logins.length + " logins" +
      (rows.length > MAX_ROWS ? " (the first " + MAX_ROWS + " in this order are drawn)" : "");
  }

  /* ---- sections of other reports: any array of flat objects as a table ---- */
  const SECTION_TITLES = { activity: "Activity (--activity)", activity_users: "Activity per user and client host (--activity)", findings: "Findings (--check)" };
  function cell(r, k) {
    const v = r[k];
    if (k === "ts" && typeof v === "number") return iso(v);
    return typeof v === "object" && v !== null ? JSON.stringify(v) : v;
  }
  function extra() {
    const box = document.getElementById("extra");
    for (const name in D.sections || {}) {
      const v = D.sections[name];
      if (v === null || v === undefined) continue;
      const rows = Array.isArray(v) ? v : Array.isArray(v.rows) ? v.rows : null;
      const sec = el("div", "extra-section");
      sec.id = "section-" + name; sec.dataset.section = name;
      sec.appendChild(el("h2", null, SECTION_TITLES[name] || name));
      box.appendChild(sec);
      if (!rows) { sec.appendChild(el("pre", null, JSON.stringify(v, null, 1))); continue; }
      if (!rows.length) { sec.appendChild(el("p", "note", "None" + (v.omitted ? " kept; " + v.omitted + " left out." : "."))); continue; }
      const keys = [...new Set(rows.flatMap((r) => Object.keys(r)))];
      const cols = keys.map((k) => ({ key: k, label: k, num: k === "session" || k === "frame" || k === "uid", show: (r) => cell(r, k) }));
      const t = el("table", "grid"), srt = { key: keys[0], dir: 1 };
      const p = el("p"), inp = el("input"), count = el("span", "note");
      inp.type = "search";
      const lab = el("label", null, "Search "); lab.appendChild(inp); p.appendChild(lab); p.appendChild(count);
      const limit = typeof v.limit === "number" ? " (the page keeps at most " + v.limit + ")" : "";
      const omitted = v.omitted ? "; " + v.omitted + " more left out" + limit : "";
      const draw = () => {
        const q = lc(inp.value.trim());
        const list = q ? rows.filter((r) => keys.some((k) => lc(cell(r, k)).includes(q))) : rows;
        const n = table(t, cols, list, srt, (k) => { toggle(srt, k); draw(); }, (row, r) => {
          if (r.result === "NO" || r.result === "BAD" || r.severity === "error") row.classList.add("fail");
          if (typeof r.session === "number") row.addEventListener("click", () => openSession(r.session));
        });
        count.textContent = " " + n + " of " + rows.length + " rows" + omitted +
          (n > MAX_ROWS ? " (the first " + MAX_ROWS + " in this order are drawn)" : "");
      };
      inp.addEventListener("input", draw);
      draw();
      sec.appendChild(p);
      const d = el("div", "scroll tall"); d.appendChild(t); sec.appendChild(d);
    }
  }

  /* ---- wiring ---- */
  function refresh() {
    const list = shown();
    document.getElementById("f-count").textContent = list.length + " of " + D.sessions.length + " sessions";
    gantt(list); sessionsTable(list); loginsTable();
  }
  function init() {
    legend(); overview(); loginFlags(); boxplot(); scatter(); extra();
    for (const k of ["user", "client", "mailbox", "command", "status"]) {
      const inp = document.getElementById("f-" + k);
      inp.addEventListener("input", () => { state.filter[k] = k === "status" ? inp.value : lc(inp.value.trim()); refresh(); });
    }
    document.getElementById("filter-form").addEventListener("submit", (e) => e.preventDefault());
    document.getElementById("l-filter").addEventListener("input", loginsTable);
    document.getElementById("l-fail").addEventListener("change", loginsTable);
    refresh();
    const m = /^#session-(\d+)$/.exec(location.hash);
    const first = m ? Number(m[1]) : D.sessions.length ? D.sessions.slice().sort((a, b) => (b.max_ms || 0) - (a.max_ms || 0))[0].id : null;
    if (first !== null) {
      const s = byId.get(first);
      if (s) { state.current = first; document.getElementById("session-title").textContent = first + ": " + s.client + " \u2192 " + s.server; facts(s); ladder(s); }
      if (m) openSession(first);
    }
    document.body.dataset.ready = "1";
  }
  init();
})();
