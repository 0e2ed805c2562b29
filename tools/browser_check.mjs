#!/usr/bin/env node
// The portal in a real headless Chromium, driven by playwright-core.
//
//   NODE_PATH=<dir with node_modules> node tools/browser_check.mjs BASE_URL RELEASE_DIR OUT_DIR
//
// BASE_URL is a running `corridor serve`; RELEASE_DIR the release folder
// it serves as its newest; OUT_DIR receives the screenshots. Chromium is
// Debian's (/usr/bin/chromium, or CHROMIUM). It checks, as a visitor would:
//   - the home page shows headline indicators with SVG trend charts;
//   - the explorer: choosing a filter and pressing Show changes the chart,
//     the table and the URL, and the URL alone gives the same view back;
//   - a CSV downloaded from the explorer is byte for byte the release's;
//   - the language switcher turns every label Spanish;
//   - the map draws the world's countries, some shaded with values;
//   - at a phone's width nothing overflows sideways;
//   - the keyboard reaches the skip link first.
// Prints one line per check; exits 1 if any fails.

import { createRequire } from "node:module";
import { readFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";

const require = createRequire(join(process.env.NODE_PATH || process.cwd(), "noop.js"));
const { chromium } = require("playwright-core");

const [base, releaseDir, outDir] = process.argv.slice(2);
if (!base || !releaseDir || !outDir) {
  console.error("usage: browser_check.mjs BASE_URL RELEASE_DIR OUT_DIR");
  process.exit(2);
}
mkdirSync(outDir, { recursive: true });
const manifest = JSON.parse(readFileSync(join(releaseDir, "release.json"), "utf8"));
const failures = [];
function check(ok, what) {
  console.log((ok ? "ok   " : "FAIL ") + what);
  if (!ok) failures.push(what);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
try {
  const context = await browser.newContext({ acceptDownloads: true, locale: "en-GB", viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));

  // Home.
  await page.goto(base + "/");
  check((await page.locator("h1").count()) === 1, "home: one heading");
  const cards = await page.locator("section.card svg.chart").count();
  check(cards >= 2, `home: ${cards} headline indicators with trend charts`);
  await page.screenshot({ path: join(outDir, "home.png"), fullPage: true });

  // Explorer: a table with a sex dimension, filtered to one sex.
  const table = manifest.tables.find((t) => t.dims.includes("sex") && (t.dims.includes("year") || t.dims.includes("month"))) || manifest.tables[0];
  await page.goto(`${base}/explore/${manifest_id()}/${table.name}?lang=en`);
  const before = {
    matched: await page.locator("#matched").textContent(),
    chart: await page.locator("#chart").innerHTML(),
    rows: await page.locator("#observations tbody tr").count(),
  };
  check(before.rows > 0, `explorer ${table.name}: ${before.rows} rows shown`);
  const sexOptions = await page.locator("select[name=sex] option").evaluateAll((os) => os.map((o) => o.value));
  const one = sexOptions.find((v) => v !== "_T") || sexOptions[0];
  await page.selectOption("select[name=series]", "");
  await page.selectOption("select[name=sex]", [one]);
  await Promise.all([page.waitForURL(/sex=/), page.click("#show")]);
  const after = {
    matched: await page.locator("#matched").textContent(),
    chart: await page.locator("#chart").innerHTML(),
    url: page.url(),
  };
  check(after.url.includes(`sex=${one}`), `explorer: the URL names the filter (${after.url})`);
  check(after.chart !== before.chart, "explorer: the chart changed with the filter");
  const cells = await page.locator("#observations tbody tr").evaluateAll((trs, col) => trs.map((tr) => tr.children[col].textContent), table.dims.indexOf("sex"));
  check(cells.length > 0 && cells.every((c) => c.includes(`(${one})`) || c === one), `explorer: every row shown has sex ${one}`);
  check(await page.locator("#chart svg").count() === 1, "explorer: an SVG chart is drawn");
  await page.screenshot({ path: join(outDir, "explorer.png"), fullPage: true });
  const again = await context.newPage();
  await again.goto(after.url);
  check((await again.locator("#matched").textContent()) === after.matched
    && (await again.locator("#chart").innerHTML()) === after.chart, "explorer: the URL alone reproduces the view");
  await again.close();

  // Download the whole table's CSV and compare it byte for byte.
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#file-csv")]);
  const got = readFileSync(await download.path());
  const want = readFileSync(join(releaseDir, table.files.csv));
  check(Buffer.compare(got, want) === 0, `download: ${table.files.csv} is byte for byte the release's (${got.length} bytes)`);

  // Spanish.
  await page.click("header .langs a[lang=es]");
  await page.waitForURL(/lang=es/);
  check((await page.getAttribute("html", "lang")) === "es", "Spanish: the page says lang=es");
  const nav = await page.locator("nav").textContent();
  check(nav.includes("Inicio") && nav.includes("Explorar") && !nav.includes("Home"), "Spanish: the navigation is Spanish");
  const labels = await page.locator("main").textContent();
  check(!labels.includes("⟦missing label⟧"), "Spanish: every label is translated");
  await page.screenshot({ path: join(outDir, "explorer-es.png"), fullPage: true });

  // The map.
  await page.goto(base + "/map?lang=en");
  const countries = await page.locator("svg.map path[data-country]").count();
  const shaded = await page.locator("svg.map path[data-country]").evaluateAll((ps) => ps.filter((p) => p.getAttribute("fill") !== "#d9d9d9").length);
  check(countries > 150, `map: ${countries} countries drawn`);
  check(shaded > 0, `map: ${shaded} countries shaded with a value`);
  const box = await page.locator("svg.map").boundingBox();
  check(box && box.width > 300 && box.height > 100, "map: the map has a size on screen");
  await page.screenshot({ path: join(outDir, "map.png"), fullPage: true });

  // The other pages answer and hold what they promise.
  for (const [path, selector] of [["/mirror", "main h1"], ["/synthetic", "main h1"], ["/methods", "main h1"], ["/releases", "main details"]]) {
    const resp = await page.goto(base + path);
    check(resp.status() === 200 && (await page.locator(selector).count()) > 0, `${path}: answers with content`);
  }

  // A phone.
  const phone = await browser.newContext({ viewport: { width: 375, height: 740 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  const p2 = await phone.newPage();
  await p2.goto(`${base}/explore/${manifest_id()}/${table.name}`);
  const overflow = await p2.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 1, `phone: no sideways overflow (${overflow} px)`);
  await p2.screenshot({ path: join(outDir, "phone.png"), fullPage: true });
  await p2.keyboard.press("Tab");
  const focused = await p2.evaluate(() => document.activeElement && document.activeElement.className);
  check(focused === "skip", "keyboard: the skip link comes first");
  await phone.close();

  check(errors.length === 0, `no script errors (${errors.join("; ")})`);
} finally {
  await browser.close();
}

function manifest_id() {
  // The folder's name is the release id.
  return releaseDir.replace(/\/+$/, "").split("/").pop();
}

console.log(`${failures.length} failed`);
process.exit(failures.length ? 1 : 0);
