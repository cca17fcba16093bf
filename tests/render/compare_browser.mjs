// comparison_view.html in headless Chromium: no script error, every match listed, both heatmaps
// drawn, the read-out follows the pointer, and hostile text from the capture stays text.
//   node compare_browser.mjs PAGE SCREENSHOT N_MATCHES
import { chromium } from 'playwright-core';
const [pagePath, shot, nMatches] = process.argv.slice(2);
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
const page = await browser.newPage({ viewport: { width: 1300, height: 620 } });
const errors = [];
page.on('pageerror', e => errors.push(String(e)));
page.on('console', m => { if (m.type() === 'error') errors.push(m.text()); });
page.on('request', r => { if (!r.url().startsWith('file:')) errors.push('request: ' + r.url()); });
await page.goto('file://' + pagePath);
const items = await page.locator('#list div').count();
const box = await page.locator('#ca').boundingBox();
await page.mouse.move(box.x + 5, box.y + box.height - 5); // last query row, first key: a valid cell
const readout = await page.textContent('#readout');
const painted = await page.evaluate(() => {
  const c = document.getElementById('cb').getContext('2d').getImageData(2, 2, 1, 1).data;
  return c[3] === 255;
});
const xss = await page.evaluate(() => window.__xss === 1);
await page.screenshot({ path: shot });
await browser.close();
const fail = [];
if (errors.length) fail.push('errors: ' + errors.join('; '));
if (items !== Number(nMatches)) fail.push(`${items} matches listed, expected ${nMatches}`);
if (!/query .* -> key /.test(readout)) fail.push(`read-out '${readout}'`);
if (!painted) fail.push('the second heatmap is not drawn');
if (xss) fail.push('hostile text ran as markup');
if (fail.length) { console.error('comparison view: ' + fail.join('; ')); process.exit(1); }
console.log(`comparison view: ${items} matches, read-out "${readout.trim()}", no error, no request`);
