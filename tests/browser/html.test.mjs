// Loads imapscope --html reports in headless Chromium and checks what the
// page shows against what the caller expects (tests/e2e/test_html.py makes
// the reports and the expectations from --summary -F json).
//
//   node html.test.mjs SPEC.json
//
// SPEC: {"chromium": path, "reports": [{"name", "html", "sessions": [ids],
// "commands": N, "logins": N, "hostile": [strings shown as text] | null,
// "extra_rows": rows of further sections, "section_rows": {name: rows drawn
// in that section}, "screenshot": path | null}]}.  Prints one line per check failed and
// "ok NAME (load N ms)" per report; exits 1 if any check failed.
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";

const spec = JSON.parse(readFileSync(process.argv[2], "utf8"));
const LOAD_LIMIT_MS = spec.load_limit_ms || 5000;
let failures = 0;
function check(ok, what) {
  if (!ok) {
    failures++;
    console.log("FAIL: " + what);
  }
}

// The variance of a screenshot's pixels, measured in a page of our own.
async function pixelVariance(browser, png) {
  const page = await browser.newPage();
  const v = await page.evaluate(async (b64) => {
    const img = new Image();
    img.src = "data:image/png;base64," + b64;
    await img.decode();
    const c = document.createElement("canvas");
    c.width = img.width;
    c.height = img.height;
    const ctx = c.getContext("2d");
    ctx.drawImage(img, 0, 0);
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    let sum = 0, sum2 = 0, n = 0;
    for (let i = 0; i < d.length; i += 16) {
      const y = 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2];
      sum += y;
      sum2 += y * y;
      n++;
    }
    const mean = sum / n;
    return sum2 / n - mean * mean;
  }, png.toString("base64"));
  await page.close();
  return v;
}

async function one(browser, r) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
  const errors = [];
  const remote = [];
  page.on("console", (m) => { if (m.type() === "error" || m.type() === "warning") errors.push(m.text()); });
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("request", (q) => { if (!q.url().startsWith("file:") && !q.url().startsWith("data:")) remote.push(q.url()); });
  const t0 = Date.now();
  await page.goto(pathToFileURL(r.html).href);
  let ready = true;
  try {
    await page.waitForSelector("body[data-ready='1']", { timeout: LOAD_LIMIT_MS * 3 });
  } catch (e) {
    ready = false;
  }
  const loadMs = Date.now() - t0;
  check(ready, `${r.name}: the page never finished drawing (${errors.join(" | ")})`);
  if (!ready) {
    await page.close();
    return;
  }
  check(loadMs <= LOAD_LIMIT_MS, `${r.name}: loaded in ${loadMs} ms, over ${LOAD_LIMIT_MS}`);
  const dom = await page.evaluate(() => ({
    rows: [...document.querySelectorAll("#sessions-table tbody tr")].map((t) => Number(t.dataset.session)),
    bars: [...document.querySelectorAll("#gantt rect.bar")].map((t) => Number(t.dataset.session)),
    sessionsCard: document.querySelector("#cards [data-k='sessions'] b").textContent,
    commandsCard: document.querySelector("#cards [data-k='commands'] b").textContent,
    logins: document.querySelectorAll("#logins-table tbody tr").length,
    ladder: document.querySelectorAll("#ladder svg line").length,
    pwned: typeof window.__pwned !== "undefined",
    imgs: document.querySelectorAll("img").length,
    scripts: document.querySelectorAll("script").length,
    extraRows: document.querySelectorAll("#extra table tbody tr").length,
    sectionRows: Object.fromEntries([...document.querySelectorAll("#extra [data-section]")].map((d) =>
      [d.dataset.section, d.querySelectorAll("tbody tr").length])),
    text: document.body.innerText,
  }));
  const want = [...r.sessions].sort((a, b) => a - b);
  check(JSON.stringify([...dom.rows].sort((a, b) => a - b)) === JSON.stringify(want),
    `${r.name}: session rows ${dom.rows.length}, expected ${want.length}`);
  check(JSON.stringify([...dom.bars].sort((a, b) => a - b)) === JSON.stringify(want),
    `${r.name}: timeline bars ${dom.bars.length}, expected ${want.length}`);
  check(dom.sessionsCard === String(want.length), `${r.name}: overview says ${dom.sessionsCard} sessions, expected ${want.length}`);
  check(dom.commandsCard === String(r.commands), `${r.name}: overview says ${dom.commandsCard} commands, expected ${r.commands}`);
  check(dom.logins === r.logins, `${r.name}: ${dom.logins} login rows, expected ${r.logins}`);
  check(dom.extraRows === (r.extra_rows || 0), `${r.name}: ${dom.extraRows} rows in further sections, expected ${r.extra_rows || 0}`);
  for (const [name, n] of Object.entries(r.section_rows || {}))
    check(dom.sectionRows[name] === n, `${r.name}: section ${name} draws ${dom.sectionRows[name]} rows, expected ${n}`);
  if (want.length) check(dom.ladder > 2, `${r.name}: the ladder of the first session is empty`);
  if (r.screenshot || r.variance) {
    // the README's picture: overview, timeline and the sessions table
    if (r.screenshot) await page.setViewportSize({ width: 1100, height: 860 });
    const png = await page.screenshot({ path: r.screenshot || undefined, fullPage: false });
    const v = await pixelVariance(browser, png);
    check(v > 100, `${r.name}: the screenshot looks blank (variance ${v.toFixed(1)})`);
  }
  // every session opens: its ladder is drawn and names it
  for (const id of want.slice(0, 40)) {
    const title = await page.evaluate((sid) => {
      document.querySelector(`#gantt rect.bar[data-session='${sid}']`).dispatchEvent(new MouseEvent("click"));
      return document.getElementById("session-title").textContent + "|" + document.querySelectorAll("#ladder svg *").length;
    }, id);
    check(title.startsWith(id + ":") && Number(title.split("|")[1]) > 4, `${r.name}: session ${id} did not open (${title})`);
  }
  if (r.hostile) {
    check(!dom.pwned, `${r.name}: an injected script ran`);
    check(dom.imgs === 0, `${r.name}: an injected <img> exists`);
    check(dom.scripts === 2, `${r.name}: ${dom.scripts} script elements, expected the page's 2`);
    const shown = dom.text + (await page.evaluate(() =>
      [...document.querySelectorAll("svg text, svg title")].map((t) => t.textContent).join("\n")));
    for (const s of r.hostile) check(shown.includes(s), `${r.name}: ${JSON.stringify(s)} is not shown as text`);
  }
  check(remote.length === 0, `${r.name}: remote loads: ${remote.join(" ")}`);
  check(errors.length === 0, `${r.name}: console errors: ${errors.join(" | ")}`);
  console.log(`ok ${r.name} (load ${loadMs} ms, ${want.length} sessions)`);
  await page.close();
}

const browser = await chromium.launch({
  executablePath: spec.chromium || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
try {
  for (const r of spec.reports) await one(browser, r);
} finally {
  await browser.close();
}
process.exit(failures ? 1 : 0);
