// The search page.  All state lives in the URL (q, region, sector, unit,
// min, max, offset, doc, p), so Back/Forward, reloads and shared links
// show the same thing.  Text from the server is put into the page only as
// text nodes; snippets are split on <mark> and their entities decoded
// here, never assigned as HTML.
'use strict';

const PAGE = 10;
const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null) e.setAttribute(k, v);
  }
  for (const k of kids) if (k !== null && k !== undefined)
    e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  return e;
}

function state() {
  const u = new URLSearchParams(location.search);
  return {
    q: u.get('q') || '',
    region: u.getAll('region'),
    sector: u.getAll('sector'),
    unit: u.get('unit') || '',
    min: u.get('min') || '',
    max: u.get('max') || '',
    offset: Math.max(0, parseInt(u.get('offset') || '0', 10) || 0),
    doc: u.get('doc') || '',
    p: u.get('p') || '',
  };
}

function toQuery(s, extra) {
  const u = new URLSearchParams();
  if (s.q) u.set('q', s.q);
  for (const r of s.region) u.append('region', r);
  for (const x of s.sector) u.append('sector', x);
  if (s.unit) u.set('unit', s.unit);
  if (s.min) u.set('min', s.min);
  if (s.max) u.set('max', s.max);
  if (s.offset) u.set('offset', String(s.offset));
  for (const [k, v] of Object.entries(extra || {})) if (v !== '') u.set(k, v);
  return u.toString();
}

function go(s, replace) {
  const url = '/?' + toQuery(s, { doc: s.doc, p: s.p });
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  render();
}

const ENT = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#39;': "'" };
const unescapeHtml = (t) => t.replace(/&(amp|lt|gt|quot|#39);/g, (m) => ENT[m]);

// A snippet is HTML-escaped text with <mark> around matches.
function snippetNode(snip) {
  const frag = document.createDocumentFragment();
  const parts = snip.split(/(<mark>|<\/mark>)/);
  let inMark = false;
  for (const p of parts) {
    if (p === '<mark>') { inMark = true; continue; }
    if (p === '</mark>') { inMark = false; continue; }
    if (!p) continue;
    const t = unescapeHtml(p);
    frag.append(inMark ? el('mark', {}, t) : document.createTextNode(t));
  }
  return frag;
}

function fmtNumber(n) {
  if (n.value >= 1e8 && n.value % 1e4 === 0) return (n.value / 1e8) + '亿' + n.unit;
  if (n.value >= 1e4 && n.value % 1 === 0) return (n.value / 1e4) + '万' + n.unit;
  return n.value + n.unit;
}

function chip(label, onRemove) {
  return el('span', { class: 'chip' }, label,
    el('button', { type: 'button', 'aria-label': '移除 ' + label, onclick: onRemove }, '✕'));
}

function renderActive(s) {
  const box = $('active');
  box.replaceChildren();
  for (const r of s.region) box.append(chip('地区：' + (regionNames.get(r) || r), () =>
    go({ ...s, region: s.region.filter((x) => x !== r), offset: 0 })));
  for (const x of s.sector) box.append(chip('领域：' + x, () =>
    go({ ...s, sector: s.sector.filter((y) => y !== x), offset: 0 })));
  if (s.unit) {
    const range = (s.min || s.max) ? ` ${s.min || '…'} ~ ${s.max || '…'}` : '';
    box.append(chip('数值：' + s.unit + range, () =>
      go({ ...s, unit: '', min: '', max: '', offset: 0 })));
  }
  if (box.children.length > 1)
    box.append(el('button', { type: 'button', class: 'clear',
      onclick: () => go({ ...s, region: [], sector: [], unit: '', min: '', max: '', offset: 0 }) },
    '清除全部筛选'));
}

function facetItem(label, count, active, onclick, extraClass) {
  return el('li', { class: extraClass || '' },
    el('button', { type: 'button', class: 'facet' + (active ? ' on' : ''),
      'data-value': label, 'data-count': String(count), onclick },
    el('span', { class: 'fname' }, label), el('span', { class: 'fcount' }, String(count))));
}

const regionNames = new Map();   // code -> name, for chips

function renderRegionTree(s, items) {
  const ul = $('facet-region');
  ul.replaceChildren();
  const byCode = new Map(items.map((r) => [r.code, { ...r, kids: [] }]));
  const roots = [];
  for (const r of byCode.values()) {
    const parent = r.parent && byCode.get(r.parent);
    (parent ? parent.kids : roots).push(r);
  }
  // A name two regions share (新城区) is filtered by its code instead.
  const named = new Map();
  for (const r of items) named.set(r.value, (named.get(r.value) || 0) + 1);
  const sortFn = (a, b) => b.count - a.count || a.value.localeCompare(b.value, 'zh');
  const add = (list, into, depth) => {
    list.sort(sortFn);
    for (const r of list.slice(0, depth === 0 ? 12 : 20)) {
      regionNames.set(r.code, r.value);
      const key = named.get(r.value) > 1 ? r.code : r.value;
      const on = s.region.includes(key);
      const li = facetItem(r.value, r.count, on, () =>
        go({ ...s, region: on ? s.region.filter((x) => x !== key) : [...s.region, key], offset: 0 }),
      'level' + r.level);
      if (r.kids.length) {
        const sub = el('ul', {});
        add(r.kids, sub, depth + 1);
        li.append(sub);
      }
      into.append(li);
    }
  };
  add(roots, ul, 0);
  if (!items.length) ul.append(el('li', { class: 'none' }, '无'));
}

function renderFacets(s, facets) {
  renderRegionTree(s, facets.region || []);
  const sec = $('facet-sector');
  sec.replaceChildren();
  for (const f of facets.sector || [])
    sec.append(facetItem(f.value, f.count, s.sector.includes(f.value), () =>
      go({ ...s, sector: s.sector.includes(f.value) ? s.sector.filter((x) => x !== f.value)
        : [...s.sector, f.value], offset: 0 })));
  if (!(facets.sector || []).length) sec.append(el('li', { class: 'none' }, '无'));
  const units = $('facet-unit');
  units.replaceChildren();
  const sel = $('unit');
  const keep = s.unit;
  sel.replaceChildren(el('option', { value: '' }, '单位'));
  for (const f of (facets.unit || []).slice(0, 12))
    units.append(facetItem(f.value, f.count, s.unit === f.value && !s.min && !s.max, () =>
      go({ ...s, unit: s.unit === f.value ? '' : f.value, min: '', max: '', offset: 0 })));
  for (const f of facets.unit || []) sel.append(el('option', { value: f.value }, f.value));
  if (keep && ![...sel.options].some((o) => o.value === keep))
    sel.append(el('option', { value: keep }, keep));
  sel.value = keep;
  $('min').value = s.min;
  $('max').value = s.max;
}

const FORMATS = { pdf: 'PDF', html: '网页', docx: 'Word', doc: 'Word', wps: 'WPS',
  ofd: 'OFD', text: '文本', markdown: '文本' };
const KINDS = { title: '标题', heading: '小标题', table: '表格' };

// The original file; a PDF opens at the page.
function fileLink(doc, format, page, label) {
  const href = '/api/file?doc=' + encodeURIComponent(doc) +
    (format === 'pdf' && page ? '#page=' + page : '');
  return el('a', { class: 'file', href, target: '_blank', rel: 'noopener' }, label);
}

function renderHit(s, h) {
  const open = () => go({ ...s, doc: h.doc, p: String(h.passage) });
  const where = h.page ? '第 ' + h.page + ' 页' : '第 ' + (h.passage + 1) + ' 段';
  const li = el('li', { class: 'hit', 'data-doc': h.doc, 'data-passage': String(h.passage) },
    el('h3', {}, el('a', { href: '/?' + toQuery(s, { doc: h.doc, p: String(h.passage) }),
      onclick: (e) => { e.preventDefault(); open(); } }, h.title || h.doc)),
    el('div', { class: 'meta' },
      h.format ? el('span', { class: 'fmt fmt-' + h.format }, FORMATS[h.format] || h.format) : null,
      KINDS[h.kind] ? el('span', { class: 'kind' }, KINDS[h.kind]) : null,
      h.doc, h.heading ? ' · ' + h.heading : '', ' · ', where,
      h.ocr ? ' · 文字识别' : '', ' · ', fileLink(h.doc, h.format, h.page, '原文')),
    el('p', { class: 'snippet' }, snippetNode(h.snippet)));
  const tags = el('div', { class: 'tags' });
  for (const r of h.regions) tags.append(el('span', { class: 'tag region' }, r));
  for (const x of h.sectors) tags.append(el('span', { class: 'tag sector' }, x));
  for (const n of h.numbers.slice(0, 12))
    tags.append(el('span', { class: 'tag num', title: n.surface, 'data-unit': n.unit,
      'data-value': String(n.value) }, n.surface));
  li.append(tags);
  return li;
}

function renderPager(s, total) {
  const nav = $('pager');
  nav.replaceChildren();
  if (total <= PAGE) return;
  const pages = Math.ceil(total / PAGE), cur = Math.floor(s.offset / PAGE);
  const btn = (label, page, extra) => el('button', { type: 'button', class: extra || '',
    disabled: page < 0 || page >= pages || page === cur ? '' : null,
    'aria-current': page === cur ? 'page' : null,
    onclick: () => { go({ ...s, offset: page * PAGE }); window.scrollTo(0, 0); } }, label);
  nav.append(btn('上一页', cur - 1, 'prev'));
  const lo = Math.max(0, cur - 3), hi = Math.min(pages, lo + 7);
  for (let i = lo; i < hi; i++) nav.append(btn(String(i + 1), i, 'num'));
  nav.append(btn('下一页', cur + 1, 'next'));
}

// Facets depend on the query and filters, not on the page: when only the
// page changes, the server is asked to skip counting them.
let lastFacets = { key: null, facets: null };

let seq = 0;
async function render() {
  const s = state();
  $('q').value = s.q;
  renderActive(s);
  const status = $('status');
  const my = ++seq;
  status.className = 'status loading';
  status.textContent = '检索中…';
  let res, body;
  const key = toQuery({ ...s, offset: 0 });
  const reuse = lastFacets.key === key;
  try {
    res = await fetch('/api/search?' + toQuery(s, { limit: String(PAGE), facets: reuse ? '0' : '' }));
    body = await res.json();
    if (res.ok) {
      if (reuse) body.facets = lastFacets.facets;
      else lastFacets = { key, facets: body.facets };
    }
  } catch (e) {
    body = { error: '无法连接检索服务：' + e.message };
  }
  if (my !== seq) return;
  const hits = $('hits');
  hits.replaceChildren();
  if (!res || !res.ok) {
    status.className = 'status error';
    status.textContent = '检索出错：' + (body && body.error ? body.error : res.status);
    $('pager').replaceChildren();
    renderFacets(s, {});
    return renderDoc(s);
  }
  renderFacets(s, body.facets);
  const filtered = s.region.length || s.sector.length || s.unit;
  status.className = 'status';
  status.replaceChildren();
  if (body.total === 0) {
    status.className = 'status empty';
    status.append(el('p', {}, s.q ? `没有找到包含“${s.q}”的段落。` : '没有符合条件的段落。'));
    if (filtered) status.append(el('p', {}, '可以试试移除筛选条件：',
      el('button', { type: 'button', class: 'linkish',
        onclick: () => go({ ...s, region: [], sector: [], unit: '', min: '', max: '', offset: 0 }) },
      '清除全部筛选')));
    else if (s.q) status.append(el('p', {}, '可以换一个说法，或去掉引号按词检索。'));
  } else {
    const from = s.offset + 1, to = Math.min(s.offset + body.hits.length, body.total);
    status.append(el('span', { id: 'count', 'data-total': String(body.total) },
      `共 ${body.total} 个段落`), `，第 ${from}–${to} 个，用时 ${body.took_ms.toFixed(1)} 毫秒`,
    s.q ? `（检索：${s.q}）` : '');
  }
  for (const h of body.hits) hits.append(renderHit(s, h));
  renderPager(s, body.total);
  renderDoc(s);
}

async function renderDoc(s) {
  const view = $('docview');
  if (!s.doc) { view.hidden = true; return; }
  view.hidden = false;
  $('doctitle').textContent = '加载中…';
  const body = $('docbody');
  body.replaceChildren();
  let data;
  try {
    const r = await fetch('/api/doc?doc=' + encodeURIComponent(s.doc) +
      (s.q ? '&q=' + encodeURIComponent(s.q) : ''));
    data = await r.json();
    if (!r.ok) throw new Error(data.error || r.status);
  } catch (e) {
    $('doctitle').textContent = '无法打开文档：' + e.message;
    return;
  }
  $('doctitle').textContent = data.title || data.doc;
  const link = $('docfile');
  link.replaceChildren(fileLink(data.doc, data.format, null, '原文下载'));
  // Headings and the title are passages of their own; every occurrence
  // of the query is marked (the server's snippet of the whole passage).
  let target = null, page = null;
  for (const p of data.passages) {
    if (p.page && p.page !== page && data.format === 'pdf') {
      page = p.page;
      body.append(el('div', { class: 'pagemark' }, fileLink(data.doc, 'pdf', page, '第 ' + page + ' 页')));
    }
    const tag = p.kind === 'heading' ? 'h3' : p.kind === 'title' ? 'h2' : 'p';
    const para = el(tag, { id: 'p' + p.passage, 'data-passage': String(p.passage),
      class: p.kind === 'table' ? 'cell' : '' }, p.snippet ? snippetNode(p.snippet) : p.text);
    if (String(p.passage) === s.p) { para.classList.add('current'); target = para; }
    body.append(para);
  }
  if (target) target.scrollIntoView({ block: 'center' });
}

function closeDoc() {
  const s = state();
  go({ ...s, doc: '', p: '' });
}

document.addEventListener('DOMContentLoaded', () => {
  $('search').addEventListener('submit', (e) => {
    e.preventDefault();
    const s = state();
    go({ ...s, q: $('q').value.trim(), offset: 0, doc: '', p: '' });
  });
  $('range').addEventListener('submit', (e) => {
    e.preventDefault();
    const s = state();
    const unit = $('unit').value;
    if (!unit) { $('unit').focus(); return; }
    go({ ...s, unit, min: $('min').value.trim(), max: $('max').value.trim(), offset: 0 });
  });
  $('docclose').addEventListener('click', closeDoc);
  $('docview').addEventListener('click', (e) => { if (e.target === $('docview')) closeDoc(); });
  document.addEventListener('keydown', (e) => {
    if (e.key === '/' && document.activeElement !== $('q') &&
        !(document.activeElement instanceof HTMLInputElement)) {
      e.preventDefault();
      $('q').focus();
      $('q').select();
    } else if (e.key === 'Escape' && !$('docview').hidden) {
      closeDoc();
    }
  });
  window.addEventListener('popstate', render);
  render();
});
