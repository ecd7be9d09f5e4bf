// Drives the search page in Debian's headless Chromium: search, highlight,
// facet click, value range, paging, reload, document view, keyboard,
// escaping, and screenshots at desktop and phone width.
//
//   node test.mjs BASE_URL ARTIFACT_DIR
import { chromium } from 'playwright-core';
import path from 'node:path';

const [base, out] = process.argv.slice(2);
let failed = 0, passed = 0;
function check(cond, msg) {
  if (cond) { passed++; return; }
  failed++;
  console.log('not ok - ' + msg);
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
});
const page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
const pageErrors = [];
page.on('pageerror', (e) => pageErrors.push(String(e)));
page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(m.text()); });

const total = async () => Number(await page.getAttribute('#count', 'data-total'));
const waitTotal = (n) => page.waitForFunction(
  (want) => document.querySelector('#count')?.dataset.total === String(want), n);

try {
  await page.goto(base + '/');
  await page.waitForSelector('#count');

  // Keyboard: "/" focuses the box; Enter searches.
  await page.click('body', { position: { x: 900, y: 700 } });
  await page.keyboard.press('/');
  check(await page.evaluate(() => document.activeElement.id === 'q'), '"/" focuses the search box');
  await page.keyboard.type('防沙治沙');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => location.search.includes('q='));
  await page.waitForSelector('.hit mark');
  const marks = await page.$$eval('.hit mark', (ms) => ms.map((m) => m.textContent));
  check(marks.length > 0 && marks.every((m) => m.includes('防沙') || m.includes('治沙')),
    'matches are highlighted: ' + marks.join(','));
  const hitsWithMark = await page.$$eval('.hit', (hs) => hs.every((h) => h.querySelector('mark')));
  check(hitsWithMark, 'every hit shows a highlighted match');
  const t0 = await total();
  check(t0 > 0, 'results for 防沙治沙');

  // Facet counts are shown; clicking a region narrows to exactly its count.
  const region = page.locator('#facet-region button.facet[data-value="赤峰市"]').first();
  check(await region.count() === 1, 'region facet 赤峰市 present');
  const regionCount = Number(await region.getAttribute('data-count'));
  check(regionCount > 0, 'region facet has a count');
  const tree = await page.$$eval('#facet-region button.facet', (bs) => bs.map((b) => b.dataset.value));
  check(tree.indexOf('内蒙古自治区') >= 0 && tree.indexOf('内蒙古自治区') < tree.indexOf('赤峰市'),
    'region facet is a tree with 内蒙古自治区 above 赤峰市');
  await region.click();
  await page.waitForFunction(() => location.search.includes('region='));
  await waitTotal(regionCount);
  check(await total() === regionCount, 'count after region click equals the facet count');
  check(await page.locator('#active .chip').count() === 1, 'active filter chip shown');

  // Value range with 万: every shown passage has a mention in range.
  await page.click('#active .chip button');
  await page.waitForFunction(() => !location.search.includes('region='));
  await page.fill('#q', '');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#unit option[value="亩"]', { state: 'attached' });
  await page.selectOption('#unit', '亩');
  await page.fill('#min', '100万');
  await page.fill('#max', '500万');
  await page.click('#range button');
  await page.waitForFunction(() => location.search.includes('min='));
  await page.waitForSelector('#count, .status.empty');
  const inRange = await page.$$eval('.hit', (hs) => hs.map((h) =>
    [...h.querySelectorAll('.tag.num')].some((t) => t.dataset.unit === '亩' &&
      Number(t.dataset.value) >= 1e6 && Number(t.dataset.value) <= 5e6)));
  check(inRange.length > 0 && inRange.every(Boolean), 'every passage has a 亩 mention in [100万, 500万]: ' + inRange);

  // Paging forward, then a reload keeps the state.
  await page.click('#active .chip button');
  await page.waitForFunction(() => !location.search.includes('unit='));
  await page.waitForSelector('.pager .next');
  const firstPage = await page.$$eval('.hit', (hs) => hs.map((h) => h.dataset.doc + '#' + h.dataset.passage));
  await page.click('.pager .next');
  await page.waitForFunction(() => location.search.includes('offset=10'));
  await page.waitForFunction((before) => {
    const now = [...document.querySelectorAll('.hit')].map((h) => h.dataset.doc + '#' + h.dataset.passage);
    return now.length && now[0] !== before[0];
  }, firstPage);
  const secondPage = await page.$$eval('.hit', (hs) => hs.map((h) => h.dataset.doc + '#' + h.dataset.passage));
  check(secondPage.every((k) => !firstPage.includes(k)), 'page 2 shows other passages');
  const url = page.url();
  await page.reload();
  await page.waitForSelector('.hit');
  const afterReload = await page.$$eval('.hit', (hs) => hs.map((h) => h.dataset.doc + '#' + h.dataset.passage));
  check(page.url() === url && JSON.stringify(afterReload) === JSON.stringify(secondPage), 'reload keeps the state');
  await page.goBack();
  await page.waitForFunction(() => !location.search.includes('offset='));
  await page.waitForFunction((want) => document.querySelector('.hit')?.dataset.doc + '#' +
    document.querySelector('.hit')?.dataset.passage === want, firstPage[0]);
  check(true, 'Back returns to page 1');

  // Document view with the passage highlighted.
  await page.fill('#q', '"以工代赈"');
  await page.keyboard.press('Enter');
  await page.waitForSelector('.hit h3 a');
  const hitPassage = await page.getAttribute('.hit', 'data-passage');
  await page.click('.hit h3 a');
  await page.waitForSelector('#docview:not([hidden]) .current');
  const current = await page.textContent('#docview .current');
  check(current.includes('以工代赈'), 'document view highlights the passage');
  check(await page.getAttribute('#docview .current', 'data-passage') === hitPassage, 'the right passage');
  await page.screenshot({ path: path.join(out, 'docview-desktop.png') });
  await page.keyboard.press('Escape');
  await page.waitForSelector('#docview', { state: 'hidden' });

  // Documents of other formats: the format and page on the hit, a link to
  // the original (a PDF at its page), every occurrence marked in the
  // document view and the clicked passage scrolled to.
  await page.fill('#q', '"光伏治沙"');
  await page.keyboard.press('Enter');
  await page.waitForSelector('.hit .fmt-pdf');
  const pdfHit = await page.$('.hit:has(.fmt-pdf)');
  const pdfMeta = await pdfHit.$eval('.meta', (e) => e.textContent);
  check(pdfMeta.includes('PDF') && /第 \d+ 页/.test(pdfMeta), 'a PDF hit shows its format and page: ' + pdfMeta);
  const href = await pdfHit.$eval('a.file', (a) => a.getAttribute('href'));
  check(/^\/api\/file\?doc=.*\.pdf#page=\d+$/.test(href), 'the PDF hit links its page: ' + href);
  const fileRes = await page.request.get(base + href.replace(/#.*/, ''));
  check(fileRes.status() === 200 && fileRes.headers()['content-type'] === 'application/pdf',
    'the original PDF is served');
  const pdfPassage = await pdfHit.getAttribute('data-passage');
  await (await pdfHit.$('h3 a')).click();
  await page.waitForSelector('#docview:not([hidden]) .current');
  const docMarks = await page.$$eval('#docbody mark', (ms) => ms.map((m) => m.textContent));
  check(docMarks.length >= 2 && docMarks.every((m) => m === '光伏治沙'),
    'the document view marks every occurrence: ' + JSON.stringify(docMarks));
  check(await page.getAttribute('#docbody .current', 'data-passage') === pdfPassage, 'the clicked PDF passage');
  check((await page.textContent('#docfile')).includes('原文下载'), 'the document view links the original');
  const inView = await page.$eval('#docbody .current', (e) => {
    const r = e.getBoundingClientRect(), p = e.closest('.docbody').getBoundingClientRect();
    return r.top >= p.top && r.bottom <= p.bottom;
  });
  check(inView, 'the clicked passage is scrolled into view');
  await page.screenshot({ path: path.join(out, 'docview-pdf-desktop.png') });
  await page.keyboard.press('Escape');
  await page.waitForSelector('#docview', { state: 'hidden' });

  // Text from documents stays text.
  await page.fill('#q', '脚本注入测试');
  await page.keyboard.press('Enter');
  await page.waitForSelector('.hit');
  const snippet = await page.textContent('.hit .snippet');
  check(snippet.includes('<script>'), 'HTML in a document is shown as text');
  check(await page.evaluate(() => window.__xss === undefined), 'no script from a document ran');

  // No results: the page says what was searched and how to widen it.
  await page.goto(base + '/?q=%22%E7%81%AB%E6%98%9F%E5%9F%BA%E5%9C%B0%22&sector=%E6%95%99%E8%82%B2');
  await page.waitForSelector('.status.empty');
  const empty = await page.textContent('.status.empty');
  check(empty.includes('火星基地') && empty.includes('清除全部筛选'), 'no-result state helps: ' + empty);

  // Screenshots: desktop and phone.
  await page.goto(base + '/?q=%E6%96%B0%E8%83%BD%E6%BA%90');
  await page.waitForSelector('.hit');
  await page.screenshot({ path: path.join(out, 'search-desktop.png') });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.reload();
  await page.waitForSelector('.hit');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
  check(!overflow, 'no horizontal scrolling at phone width');
  await page.screenshot({ path: path.join(out, 'search-phone.png') });
  check(pageErrors.length === 0, 'no script errors: ' + pageErrors.join(' | '));
} catch (e) {
  failed++;
  console.log('not ok - browser test aborted: ' + e.message);
  await page.screenshot({ path: path.join(out, 'failure.png') }).catch(() => {});
} finally {
  await browser.close();
}
console.log(`browser: ${passed} checks passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
