// The search page.  All state lives in the URL (q, region, sector, unit,
// min, max, from, to, agency, type, sort, group, offset, doc, p), so Back/Forward, reloads and shared links
// show the same thing.  Text from the server is put into the page only as
// text nodes; snippets are split on <mark> and their entities decoded
// here, never assigned as HTML.
'use strict';

const PAGE = 10;
const $ = (id) => document.getElementById(id);

// A kept answer comes back in microseconds: "0.0 毫秒" read as broken.
function tookText(ms) {
  return ms < 0.1 ? '不到 0.1 毫秒' : ` ${ms.toFixed(1)} 毫秒`;
}

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
    from: u.get('from') || '',
    to: u.get('to') || '',
    agency: u.getAll('agency'),
    type: u.getAll('type'),
    sort: u.get('sort') || '',
    group: u.get('group') || '',
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
  if (s.from) u.set('from', s.from);
  if (s.to) u.set('to', s.to);
  for (const a of s.agency) u.append('agency', a);
  for (const t of s.type) u.append('type', t);
  if (s.sort) u.set('sort', s.sort);
  if (s.group) u.set('group', s.group);
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
  if (s.from || s.to) {
    const label = s.from === s.to ? s.from : `${s.from || '…'} ~ ${s.to || '…'}`;
    box.append(chip('日期：' + label, () => go({ ...s, from: '', to: '', offset: 0 })));
  }
  for (const a of s.agency) box.append(chip('发文机关：' + a, () =>
    go({ ...s, agency: s.agency.filter((x) => x !== a), offset: 0 })));
  for (const t of s.type) box.append(chip('类型：' + t, () =>
    go({ ...s, type: s.type.filter((x) => x !== t), offset: 0 })));
  if (box.children.length > 1)
    box.append(el('button', { type: 'button', class: 'clear',
      onclick: () => go({ ...s, ...NO_FILTERS }) }, '清除全部筛选'));
}

const NO_FILTERS = { region: [], sector: [], unit: '', min: '', max: '', from: '', to: '',
  agency: [], type: [], offset: 0 };

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
  renderYears(s, facets.year || []);
  for (const [name, key] of [['agency', 'agency'], ['type', 'type']]) {
    const ul = $('facet-' + name);
    ul.replaceChildren();
    for (const f of (facets[name] || []).slice(0, 15)) {
      const on = s[key].includes(f.value);
      ul.append(facetItem(f.value, f.count, on, () =>
        go({ ...s, [key]: on ? s[key].filter((x) => x !== f.value) : [...s[key], f.value],
          offset: 0 })));
    }
    if (!(facets[name] || []).length) ul.append(el('li', { class: 'none' }, '无'));
  }
}

// Years as a histogram, oldest left: a bar filters to its year; the two
// inputs take any range (年, 年-月 or 年-月-日).
function renderYears(s, years) {
  const box = $('facet-year');
  box.replaceChildren();
  const list = [...years].sort((a, b) => a.value.localeCompare(b.value));
  const max = Math.max(1, ...list.map((y) => y.count));
  for (const y of list) {
    const on = s.from === y.value && s.to === y.value;
    box.append(el('button', { type: 'button', class: 'bar' + (on ? ' on' : ''),
      'data-value': y.value, 'data-count': String(y.count), title: `${y.value} 年：${y.count}`,
      'aria-label': `${y.value} 年 ${y.count}`,
      onclick: () => go({ ...s, from: on ? '' : y.value, to: on ? '' : y.value, offset: 0 }) },
    el('span', { class: 'fill', style: null }), el('span', { class: 'yl' }, y.value.slice(2))));
    box.lastChild.firstChild.style.height = Math.max(4, Math.round(56 * y.count / max)) + 'px';
  }
  if (!list.length) box.append(el('span', { class: 'none' }, '无'));
  $('from').value = s.from;
  $('to').value = s.to;
}

const FORMATS = { pdf: 'PDF', html: '网页', docx: 'Word', doc: 'Word', wps: 'WPS',
  ofd: 'OFD', text: '文本', markdown: '文本', xlsx: 'Excel', xls: 'Excel', et: 'WPS表格', image: '图片',
  pptx: 'PPT', dps: 'WPS演示', odt: 'ODF文档', ods: 'ODF表格', odp: 'ODF演示',
  rtf: 'RTF', mht: '网页' };
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
  const m = h.meta || {};
  const when = m.date || m.published;
  const docline = el('div', { class: 'docmeta' },
    m.number ? el('span', { class: 'number' }, m.number) : null,
    when ? el('span', { class: 'date' }, when) : null,
    (m.agency || []).length ? el('span', { class: 'agency' }, m.agency.join('、')) : null,
    m.type ? el('span', { class: 'type' }, m.type) : null);
  const li = el('li', { class: 'hit', 'data-doc': h.doc, 'data-passage': String(h.passage) },
    el('h3', {}, el('a', { href: '/?' + toQuery(s, { doc: h.doc, p: String(h.passage) }),
      onclick: (e) => { e.preventDefault(); open(); } }, m.title || h.title || h.doc)),
    docline.children.length ? docline : null,
    el('div', { class: 'meta' },
      h.format ? el('span', { class: 'fmt fmt-' + h.format }, FORMATS[h.format] || h.format) : null,
      KINDS[h.kind] ? el('span', { class: 'kind' }, KINDS[h.kind]) : null,
      h.doc, h.heading ? ' · ' + h.heading : '', ' · ', where,
      h.ocr ? ' · 文字识别' : '', ' · ', fileLink(h.doc, h.format, h.page, '原文')),
    el('p', { class: 'snippet' }, snippetNode(h.snippet)));
  if (h.passages !== undefined) {
    // One document: its best passages and how many match.
    for (const x of h.more || [])
      li.append(el('p', { class: 'snippet more' },
        el('a', { href: '/?' + toQuery(s, { doc: h.doc, p: String(x.passage) }),
          onclick: (e) => { e.preventDefault(); go({ ...s, doc: h.doc, p: String(x.passage) }); } },
        x.page ? '第 ' + x.page + ' 页' : '第 ' + (x.passage + 1) + ' 段'), ' ', snippetNode(x.snippet)));
    li.append(el('div', { class: 'passages' }, `本文件共 ${h.passages} 个匹配段落`));
  }
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
  const filtered = s.region.length || s.sector.length || s.unit || s.from || s.to ||
    s.agency.length || s.type.length;
  renderTools(s, body.total);
  status.className = 'status';
  status.replaceChildren();
  if (body.total === 0) {
    status.className = 'status empty';
    status.append(el('p', {}, s.q ? `没有找到包含“${s.q}”的段落。` : '没有符合条件的段落。'));
    if (filtered) status.append(el('p', {}, '可以试试移除筛选条件：',
      el('button', { type: 'button', class: 'linkish',
        onclick: () => go({ ...s, ...NO_FILTERS }) }, '清除全部筛选')));
    else if (s.q) status.append(el('p', {}, '可以换一个说法，或去掉引号按词检索。'));
  } else {
    const from = s.offset + 1, to = Math.min(s.offset + body.hits.length, body.total);
    status.append(el('span', { id: 'count', 'data-total': String(body.total) },
      `共 ${body.total} 个${s.group === 'doc' ? '文件' : '段落'}`), `，第 ${from}–${to} 个，用时${tookText(body.took_ms)}`,
    s.q ? `（检索：${s.q}）` : '');
  }
  for (const h of body.hits) hits.append(renderHit(s, h));
  renderPager(s, body.total);
  renderDoc(s);
}

// Sort, per-document view and export: above the hits.
const EXPORT_MAX = 100000;
function renderTools(s, total) {
  $('sort').value = s.sort;
  $('group').checked = s.group === 'doc';
  const a = $('export');
  a.href = '/api/export?' + toQuery({ ...s, offset: 0, group: '' });
  const note = $('exportnote');
  if (s.group !== 'doc' && total > EXPORT_MAX) {
    a.setAttribute('aria-disabled', 'true');
    note.textContent = `匹配段落超过 ${EXPORT_MAX} 个，请先缩小范围再导出`;
  } else {
    a.removeAttribute('aria-disabled');
    note.textContent = '';
  }
}

// What the document says of itself, as a small table.
function metaTable(data) {
  const m = (data.file && data.file.meta) || {};
  const rows = [['标题', m.title || data.title], ['发文机关', (m.agency || []).join('、')],
    ['发文字号', m.number], ['成文日期', m.date], ['发布日期', m.published], ['类型', m.type],
    ['来源文件', data.doc]];
  const t = el('table', { class: 'doctable', id: 'docmeta' });
  for (const [k, v] of rows) if (v) t.append(el('tr', {}, el('th', {}, k), el('td', {}, v)));
  return t;
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
  body.append(metaTable(data));
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
  $('dates').addEventListener('submit', (e) => {
    e.preventDefault();
    go({ ...state(), from: $('from').value.trim(), to: $('to').value.trim(), offset: 0 });
  });
  $('sort').addEventListener('change', () => go({ ...state(), sort: $('sort').value, offset: 0 }));
  $('group').addEventListener('change', () =>
    go({ ...state(), group: $('group').checked ? 'doc' : '', offset: 0 }));
  $('export').addEventListener('click', (e) => {
    if ($('export').getAttribute('aria-disabled')) e.preventDefault();
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
