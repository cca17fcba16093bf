// attnscope serve in headless Chromium (playwright-core, /usr/bin/chromium): open the printed URL,
// pick sequence 3, click a head of layer 40, hover a cell of its heatmap: the read-out must equal
// the capture's float32 value at that cell, read here straight from the safetensors file. Prints
// the time to first paint (grid and first head drawn) and to show the clicked head.
//   node serve_browser.mjs URL CAPTURE_DIR SCREENSHOT.png
import { chromium } from "playwright-core";
import { openSync, readSync, closeSync } from "node:fs";

const [url, dir, shot] = process.argv.slice(2);
const fail = (msg) => { console.error("FAIL: " + msg); process.exitCode = 1; };

// seq{S}.blocks.{L}.attn.hook_pattern [H, T, T] at (h, i, j), float32 little-endian
// (only the header and the 4 bytes are read: captures may be larger than memory)
function captured(s, l, h, i, j) {
  const fd = openSync(dir + "/attention_data_weights.safetensors", "r");
  const read = (pos, len) => { const b = Buffer.alloc(len); readSync(fd, b, 0, len, pos); return b; };
  const n = Number(read(0, 8).readBigUInt64LE(0));
  const header = JSON.parse(read(8, n).toString("utf8"));
  const t = header[`seq${s}.blocks.${l}.attn.hook_pattern`];
  const [, T] = t.shape;
  const v = read(8 + n + t.data_offsets[0] + 4 * ((h * T + i) * T + j), 4).readFloatLE(0);
  closeSync(fd);
  return v;
}

// page.waitForFunction compiles its predicate with eval, which the page's CSP forbids: poll instead
async function until(page, fn, arg, what, ms = 10000) {
  const end = Date.now() + ms;
  while (!(await page.evaluate(fn, arg))) {
    if (Date.now() > end) throw new Error("timed out waiting for " + what);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const errors = [];
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(url);
  await page.waitForSelector("body[data-ready='1']", { timeout: 30000 });
  // the page's own clock: from navigation start to the grid and first head drawn, then the frame
  const firstPaint = Math.round(Number(await page.getAttribute("body", "data-ready-ms")));

  await page.selectOption("#seq", "3");
  await until(page, () => (document.querySelector("#detail").dataset.shown || "").startsWith("3:"), null, "sequence 3");
  await until(page, () => document.getElementById("grid").dataset.seq === "3", null, "the grid of sequence 3");
  // a real click on the head, timed in the page: from the click event to the frame that shows it
  await page.evaluate(() => {
    const cell = document.querySelector('#grid .cell[data-layer="40"][data-head="1"]');
    cell.addEventListener("click", () => {
      const t0 = performance.now();
      const mo = new MutationObserver(() => {
        if (document.querySelector("#detail").dataset.shown !== "3:40:1") return;
        mo.disconnect();
        requestAnimationFrame(() => setTimeout(() => { window.__headMs = performance.now() - t0; }, 0));
      });
      mo.observe(document.querySelector("#detail"), { attributes: true });
    }, { capture: true, once: true });
  });
  await page.locator('#grid .cell[data-layer="40"][data-head="1"]').click();
  await until(page, () => window.__headMs !== undefined, null, "head L40H1");
  const headTime = Math.round(await page.evaluate(() => window.__headMs));

  const heat = page.locator("#heat");
  await heat.scrollIntoViewIfNeeded();
  const box = await heat.boundingBox();
  const n = await page.evaluate(() => document.getElementById("heat").width);
  const [i, j] = [Math.floor(n * 0.8), Math.floor(n * 0.3)];
  await page.mouse.move(box.x + (j + 0.5) * box.width / n, box.y + (i + 0.5) * box.height / n);
  const shown = await page.getAttribute("#readout", "data-value");
  const at = await page.getAttribute("#readout", "data-cell");
  const want = captured(3, 40, 1, i, j);
  if (at !== `${i},${j}`) fail(`hovered cell ${at}, meant ${i},${j}`);
  if (Number(shown) !== want) fail(`read-out ${shown} at (${i}, ${j}); the capture holds ${want}`);
  const text = await page.textContent("#readout");
  if (!text.includes(want.toPrecision(7))) fail(`read-out text '${text}' does not show ${want.toPrecision(7)}`);

  await page.screenshot({ path: shot });
  if (errors.length) fail("console errors: " + errors.join(" | "));
  if (!process.exitCode)
    console.log(`serve ok: first paint ${firstPaint} ms, head L40H1 ${headTime} ms, read-out ${shown} = capture at (${i}, ${j})`);
} finally {
  await browser.close();
}
