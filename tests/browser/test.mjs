// Drives the search page in Debian's headless Chromium: search, highlight,
// facet click, value range, paging, reload, year histogram, agency and
// type facets, sort, grouping by document, export, document view with its
// metadata, keyboard, escaping, and screenshots at desktop and phone width.
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
  // The same search again is a kept answer, back in microseconds: the
  // time reads as such, never as "0.0 毫秒".
  await waitTotal(t0);
  const took = await page.textContent('#status');
  check(/用时(不到 0\.1| \d+\.\d) 毫秒/.test(took) && !took.includes(' 0.0 毫秒'),
    'the time of a kept answer reads sensibly: ' + took);
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

  // Document metadata: the year histogram, sort, documents, export.
  await page.goto(base + '/?q=' + encodeURIComponent('发展'));
  await page.waitForSelector('#facet-year .bar');
  const bars = await page.$$eval('#facet-year .bar', (bs) => bs.map((b) => [b.dataset.value, Number(b.dataset.count)]));
  check(bars.length >= 2 && bars.every(([y, n]) => /^\d{4}$/.test(y) && n > 0) &&
    bars.map(([y]) => y).join() === bars.map(([y]) => y).sort().join(),
  'the year histogram has a bar per year, oldest left: ' + JSON.stringify(bars));
  const heights = await page.$$eval('#facet-year .bar .fill', (fs) => fs.map((f) => f.getBoundingClientRect().height));
  const [bigYear] = bars.reduce((a, b) => (b[1] > a[1] ? b : a));
  check(Math.max(...heights) === heights[bars.findIndex(([y]) => y === bigYear)],
    'the tallest bar is the year with the most passages');
  const [pickYear, pickCount] = bars[0];
  await page.click(`#facet-year .bar[data-value="${pickYear}"]`);
  await page.waitForFunction((y) => location.search.includes('from=' + y) && location.search.includes('to=' + y), pickYear);
  await waitTotal(pickCount);
  const yearDates = await page.$$eval('.hit .docmeta .date', (ds) => ds.map((d) => d.textContent));
  check(yearDates.length > 0 && yearDates.every((d) => d.startsWith(pickYear)),
    `a year bar filters to ${pickYear}: ${yearDates.join(',')}`);
  check((await page.textContent('#active')).includes('日期：' + pickYear), 'the year filter shows as a chip');
  await page.fill('#from', '2024-01');
  await page.fill('#to', '2025-06');
  await page.click('#dates button');
  await page.waitForFunction(() => location.search.includes('from=2024-01') && location.search.includes('to=2025-06'));
  await page.waitForSelector('.hit .docmeta .date');
  const rangeDates = await page.$$eval('.hit .docmeta .date', (ds) => ds.map((d) => d.textContent));
  check(rangeDates.every((d) => d.length === 10 && d >= '2024-01-01' && d <= '2025-06-30'),
    'a typed date range filters: ' + rangeDates.join(','));

  // Agency and type facets narrow to exactly their counts.
  await page.goto(base + '/?q=' + encodeURIComponent('发展'));
  await page.waitForSelector('#facet-agency button.facet');
  const agency = page.locator('#facet-agency button.facet').first();
  const agencyCount = Number(await agency.getAttribute('data-count'));
  const agencyName = await agency.getAttribute('data-value');
  await agency.click();
  await waitTotal(agencyCount);
  check((await page.textContent('#active')).includes('发文机关：' + agencyName),
    `agency facet ${agencyName} narrows to ${agencyCount}`);
  await page.waitForSelector('#facet-type button.facet');
  const type = page.locator('#facet-type button.facet').first();
  const typeCount = Number(await type.getAttribute('data-count'));
  const typeName = await type.getAttribute('data-value');
  await type.click();
  await waitTotal(typeCount);
  const onlyType = await page.$$eval('.hit .docmeta .type', (ts) => ts.map((t) => t.textContent));
  check(onlyType.length > 0 && onlyType.every((t) => t === typeName),
    `type facet ${typeName} within the agency narrows to ${typeCount}: ${onlyType.join(',')}`);

  // Sort: newest first, undated last.
  await page.goto(base + '/?q=' + encodeURIComponent('发展'));
  await page.waitForSelector('.hit');
  await page.selectOption('#sort', 'date');
  await page.waitForFunction(() => location.search.includes('sort=date'));
  await page.waitForSelector('.hit .docmeta .date');
  const newest = await page.$$eval('.hit', (hs) => hs.map((h) => h.querySelector('.docmeta .date')?.textContent || ''));
  const padded = newest.filter(Boolean).map((d) => (d + '-00-00').slice(0, 10));
  check(newest[0] && padded.every((d, i) => i === 0 || padded[i - 1] >= d),
    '最新 sorts newest first: ' + newest.join(','));
  await page.selectOption('#sort', '-date');
  await page.waitForFunction(() => location.search.includes('sort=-date'));
  await page.waitForFunction((first) => document.querySelector('.hit .docmeta .date')?.textContent !== first, newest[0]);
  const oldest = await page.$$eval('.hit .docmeta .date', (ds) => ds.map((d) => (d.textContent + '-00-00').slice(0, 10)));
  check(oldest.every((d, i) => i === 0 || oldest[i - 1] <= d), '最早 sorts oldest first: ' + oldest.join(','));
  check(await page.inputValue('#sort') === '-date', 'the sort selector shows the sort');

  // 按文件: one hit per document with its count of matching passages.
  await page.selectOption('#sort', '');
  await page.waitForFunction(() => !location.search.includes('sort='));
  const passagesTotal = await total();
  await page.check('#group');
  await page.waitForFunction(() => location.search.includes('group=doc'));
  await page.waitForSelector('.hit .passages');
  const docsTotal = await total();
  const grouped = await page.$$eval('.hit', (hs) => hs.map((h) => [h.dataset.doc,
    Number((h.querySelector('.passages')?.textContent.match(/(\d+)/) || [0, 0])[1])]));
  check(docsTotal > 0 && docsTotal < passagesTotal && (await page.textContent('#status')).includes('个文件'),
    `按文件: ${docsTotal} documents of ${passagesTotal} passages`);
  check(new Set(grouped.map(([d]) => d)).size === grouped.length && grouped.every(([, n]) => n >= 1),
    'each document once, with its matching passages: ' + JSON.stringify(grouped.slice(0, 3)));
  await page.screenshot({ path: path.join(out, 'grouped-desktop.png') });
  await page.uncheck('#group');
  await page.waitForFunction(() => !location.search.includes('group='));
  await waitTotal(passagesTotal);

  // Export: the button downloads the same search as CSV.
  await page.selectOption('#sort', 'date');
  await page.waitForFunction(() => location.search.includes('sort=date'));
  // The link is set when the sorted answer is shown, after the address
  // changes: wait for it (a timeout leaves the check below to say so).
  await page.waitForFunction(() => (document.querySelector('#export').getAttribute('href') || '')
    .includes('sort=date'), null, { timeout: 10000 }).catch(() => {});
  const exportHref = await page.getAttribute('#export', 'href');
  check(exportHref.startsWith('/api/export?') && exportHref.includes('sort=date') &&
    exportHref.includes('q='), 'the export link carries the search: ' + exportHref);
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export')]);
  const csvPath = path.join(out, 'export.csv');
  await download.saveAs(csvPath);
  const csv = (await import('node:fs')).readFileSync(csvPath);
  const lines = csv.toString('utf8').split('\r\n').filter(Boolean);
  check(csv[0] === 0xef && csv[1] === 0xbb && csv[2] === 0xbf && lines[0].replace('\ufeff', '').startsWith('doc,passage,title'),
    'the export is UTF-8 CSV with a BOM and a header');
  const firstHit = await page.getAttribute('.hit', 'data-doc');
  check(lines.length > 1 && lines[1].startsWith(firstHit + ','), 'the export lists the hits in order: ' + lines[1].slice(0, 60));
  (await import('node:fs')).unlinkSync(csvPath);

  // The document view shows the document's metadata.
  await page.goto(base + '/?q=' + encodeURIComponent('实施方案') + '&sort=date');
  await page.waitForSelector('.hit .docmeta .number');
  const numbered = page.locator('.hit:has(.docmeta .number)').first();
  const hitNumber = await numbered.locator('.docmeta .number').textContent();
  await numbered.locator('h3 a').click();
  await page.waitForSelector('#docmeta');
  const rows = await page.$$eval('#docmeta tr', (trs) => trs.map((t) => [t.cells[0].textContent, t.cells[1].textContent]));
  const table = Object.fromEntries(rows);
  check(table['发文字号'] === hitNumber && table['标题'] && table['来源文件'] && table['成文日期'],
    'the document view has a metadata table: ' + JSON.stringify(table));
  await page.screenshot({ path: path.join(out, 'docview-meta-desktop.png') });
  await page.keyboard.press('Escape');
  await page.waitForSelector('#docview', { state: 'hidden' });

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
  await page.goto(base + '/?q=' + encodeURIComponent('发展') + '&sort=date&group=doc');
  await page.waitForSelector('.hit .passages');
  await page.screenshot({ path: path.join(out, 'documents-desktop.png'), fullPage: false });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.reload();
  await page.waitForSelector('.hit');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
  check(!overflow, 'no horizontal scrolling at phone width');
  await page.screenshot({ path: path.join(out, 'search-phone.png') });
  await page.goto(base + '/?q=' + encodeURIComponent('发展') + '&sort=date&group=doc');
  await page.waitForSelector('.hit .passages');
  const overflow2 = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
  check(!overflow2, 'no horizontal scrolling at phone width with documents grouped');
  await page.screenshot({ path: path.join(out, 'documents-phone.png') });
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
