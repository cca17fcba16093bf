// Load time of attention_view.html in headless Chromium: navigation start to the page's ready
// flag (data decoded, grid of every head drawn, first head shown). Best of N loads.
//   node viewer_load.mjs VIEW.html [N]
import { chromium } from "playwright-core";
import { pathToFileURL } from "node:url";
const [view, n = "3"] = process.argv.slice(2);
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
const times = [];
for (let k = 0; k < +n; k++) {
  const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  const t0 = Date.now();
  await page.goto(pathToFileURL(view).href);
  await page.waitForSelector("body[data-ready='1']", { timeout: 120000 });
  times.push(Date.now() - t0);
  const cells = await page.$$eval("#grid .cell", (c) => c.length);
  if (k === 0) console.log(`heads in grid: ${cells}`);
  await page.close();
}
console.log(`load times (ms): ${times.join(", ")}; best ${Math.min(...times)}`);
await browser.close();
