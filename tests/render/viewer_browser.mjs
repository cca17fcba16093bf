// Drives attention_view.html in headless Chromium (playwright-core, /usr/bin/chromium): no console
// error, no network request, clicking a head changes the detail view, hovering a token isolates
// its lines, a hostile token renders as text. Saves a screenshot as the test's artefact.
//   node viewer_browser.mjs VIEW.html SCREENSHOT.png HOSTILE_TOKEN_SUBSTRING
import { chromium } from "playwright-core";
import { pathToFileURL } from "node:url";

const [view, shot, hostile] = process.argv.slice(2);
const fail = (msg) => { console.error("FAIL: " + msg); process.exitCode = 1; };
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const errors = [], requests = [];
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  page.on("pageerror", (e) => errors.push(String(e)));
  const url = pathToFileURL(view).href;
  page.on("request", (r) => { if (r.url() !== url) requests.push(r.url()); });
  await page.goto(url);
  await page.waitForSelector("body[data-ready='1']", { timeout: 15000 });

  const cells = await page.$$("#grid .cell");
  if (cells.length < 2) fail(`grid has ${cells.length} heads`);
  const before = await page.textContent("#detail-title");
  const target = cells[cells.length - 1];
  const want = "L" + (await target.getAttribute("data-layer")) + "H" + (await target.getAttribute("data-head"));
  await target.click();
  const after = await page.textContent("#detail-title");
  if (after === before || !after.startsWith(want)) fail(`clicking ${want} left the title at '${after}' (was '${before}')`);
  if (!(await target.evaluate((e) => e.classList.contains("selected")))) fail("the clicked head is not marked selected");

  // hover the third query token: only its lines remain and the token is highlighted
  const tok = page.locator('#hv-left .tok[data-pos="2"]');
  await tok.hover();
  const focus = await page.getAttribute("#lines", "data-focus");
  if (focus !== "2") fail(`hovering token 2 set data-focus=${focus}`);
  if (!(await tok.evaluate((e) => e.classList.contains("focus")))) fail("the hovered token is not highlighted");
  await page.mouse.move(5, 5);
  if ((await page.getAttribute("#lines", "data-focus")) !== "-1") fail("leaving the token did not restore all lines");

  // the hostile token is text: present in textContent, no element injected, no script run
  const seqs = await page.$$eval("#seq option", (o) => o.length);
  let found = false;
  for (let s = 0; s < seqs && !found; s++) {
    await page.selectOption("#seq", String(s));
    // the token list shows each token as one span: together they spell the text
    found = await page.$eval("#tokens", (e, h) => e.textContent.includes(h), hostile);
  }
  if (!found) fail("the hostile token is not shown as text");
  if (await page.$("img")) fail("an <img> element was injected");
  if (await page.evaluate(() => window.__xss !== undefined)) fail("the hostile token ran script");

  await page.screenshot({ path: shot, fullPage: true });
  if (errors.length) fail("console errors: " + errors.join(" | "));
  if (requests.length) fail("network requests: " + requests.join(", "));
  if (!process.exitCode) console.log(`viewer ok: ${cells.length} heads, screenshot ${shot}`);
} finally {
  await browser.close();
}
