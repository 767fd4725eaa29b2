// Figures: each view of a saved view (prediction, layers, logit lens, rank chart, attention) as a
// standalone SVG (print colours, text as text) or PNG, drawn from the snapshot alone. Each file says
// what it shows in words (model, weights fingerprint, prompt, interventions, lmdbg version) and
// carries the whole snapshot: SVG in its <metadata>, PNG in a tEXt chunk, so that a figure dropped on
// the page restores its view (snapshotFromFile).
import { headName, readSnapshot, snapshotTrace, valueVectorName, type LayerTrace, type ScoredToken, type Snapshot, type Trace, type ViewName } from 'lmdbg';
import { s, type Attrs } from './dom';
import { rankChart } from './charts';

const NS = 'http://www.w3.org/2000/svg';
/** The namespace of the snapshot element inside <metadata>. */
export const SNAPSHOT_NS = 'https://lmdbg.dev/snapshot';
/** The PNG tEXt keyword of the snapshot. */
export const PNG_KEYWORD = 'lmdbg.snapshot';

/** The views that export as figures (the compare view is read on the page). */
export const FIGURE_VIEWS: { view: ViewName; label: string }[] = [
  { view: 'prediction', label: 'Prediction' },
  { view: 'layers', label: 'Layers' },
  { view: 'lens', label: 'Logit lens' },
  { view: 'rank', label: 'Rank chart' },
  { view: 'attention', label: 'Attention' },
];

const FONT = '12px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
const MONO = '11px ui-monospace, Menlo, Consolas, monospace';
const C = { fg: '#1c2430', muted: '#5d6b7a', line: '#dde2e8', accent: '#1f5f99', chip: '#f6f7f9', changed: '#fff1c2', changedLine: '#c99400', pos: '#1b7f3b', neg: '#b3261e', lens: '31,95,153', attn: '31,78,121' };
/** The rank chart's classes, in print colours (the chart is the view's own, views/lens.ts). */
const CHART_STYLE = `.grid{stroke:${C.line};stroke-width:1}.axis{fill:${C.muted};font:${FONT}}.line{fill:none;stroke-width:2}.line.rank,.dot.rank{stroke:${C.accent}}.line.prob,.dot.prob{stroke:${C.changedLine}}.dot{fill:#fff;stroke-width:2}.sel{fill:#e7f0fb}`;

let ctx: CanvasRenderingContext2D | null = null;
function textWidth(text: string, font = FONT): number {
  ctx ??= document.createElement('canvas').getContext('2d');
  if (!ctx) return text.length * 7;
  ctx.font = font;
  return Math.ceil(ctx.measureText(text).width);
}

/** A token as shown in a figure: visible whitespace, at most 24 characters. */
function label(text: string): string {
  const t = text === '' ? '∅' : text.replace(/\n/g, '↵').replace(/\t/g, '⇥').replace(/\r/g, '␍').replace(/^ /, '␣').replace(/ $/, '␣');
  const chars = [...t];
  return chars.length > 24 ? `${chars.slice(0, 23).join('')}…` : t;
}

function pct(p: number | undefined): string {
  if (p === undefined || !Number.isFinite(p)) return '';
  if (p >= 0.995) return '100%';
  if (p < 0.001) return '<0.1%';
  return `${(p * 100).toFixed(p < 0.1 ? 1 : 0)}%`;
}

function text(x: number, y: number, str: string, attrs: Attrs = {}): SVGTextElement {
  return s('text', { x, y, fill: C.fg, style: { font: FONT }, ...attrs }, str);
}

/** A token chip at (x, y = top); returns its width. */
function chip(g: SVGElement[], x: number, y: number, t: { text: string }, fill = C.chip): number {
  const str = label(t.text);
  const w = textWidth(str, MONO) + 8;
  g.push(s('rect', { x, y, width: w, height: 16, rx: 3, fill, stroke: C.line }));
  g.push(s('text', { x: x + 4, y: y + 12, fill: C.fg, style: { font: MONO, 'white-space': 'pre' } }, str));
  return w;
}

/** Lines of at most `width` px (by words). */
function wrap(str: string, width: number, font = FONT): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of str.split(' ')) {
    const next = line ? `${line} ${word}` : word;
    if (line && textWidth(next, font) > width) {
      out.push(line);
      line = word;
    } else line = next;
  }
  if (line) out.push(line);
  return out.slice(0, 6);
}

function spec(iv: Snapshot['interventions'][number]): string {
  const v = iv.value !== undefined && iv.value !== null ? `=${iv.value}` : '';
  const at = iv.positions && iv.positions.length ? `@${iv.positions.join(',')}` : '';
  return `${iv.head !== undefined ? headName(iv.layer, iv.head) : valueVectorName(iv.layer, iv.index)}:${iv.mode}${v}${at}`;
}

/** What a figure says about itself, in words: also its <title>/<desc> and the PNG's description. */
export function figureSummary(snap: Snapshot, view: ViewName): { title: string; lines: string[] } {
  const name = FIGURE_VIEWS.find((f) => f.view === view)?.label ?? view;
  const active = snap.interventions.filter((i) => i.active);
  const off = snap.interventions.filter((i) => !i.active);
  return {
    title: `lmdbg · ${name} · ${snap.model.name ?? 'GPT-2'}`,
    lines: [
      `Prompt: “${snap.prompt}”`,
      active.length ? `Run with ${active.map(spec).join(', ')}${off.length ? ` (switched off: ${off.map(spec).join(', ')})` : ''}` : `Clean run (no interventions${off.length ? `; switched off: ${off.map(spec).join(', ')}` : ''})`,
      `Weights ${snap.model.fingerprint} · lmdbg ${snap.lmdbg}`,
    ],
  };
}

// ---- the views, as SVG groups at (0, 0); each returns its size

type Body = { nodes: SVGElement[]; width: number; height: number };

function predictionBody(t: Trace): Body {
  const pos = t.positions[t.positions.length - 1]!;
  const cols: { title: string; list: ScoredToken[] }[] = pos.clean ? [{ title: 'Clean run', list: pos.clean.prediction }, { title: 'With the interventions', list: pos.prediction }] : [{ title: 'Top tokens', list: pos.prediction }];
  const nodes: SVGElement[] = [];
  const tokW = Math.max(60, ...cols.flatMap((c) => c.list.map((x) => textWidth(label(x.text), MONO) + 8)));
  const colW = 24 + tokW + 8 + 140 + 50;
  cols.forEach((c, ci) => {
    const x0 = ci * (colW + 24);
    nodes.push(text(x0, 12, c.title, { 'font-weight': 600 }));
    const max = Math.max(1e-9, ...c.list.map((x) => x.prob ?? 0));
    const other = cols.length > 1 ? cols[1 - ci]!.list : null;
    c.list.slice(0, 10).forEach((x, i) => {
      const y = 22 + i * 22;
      const moved = other && other.findIndex((o) => o.id === x.id) !== i;
      if (moved) nodes.push(s('rect', { x: x0 - 2, y: y - 2, width: colW, height: 20, fill: C.changed }));
      nodes.push(text(x0 + 18, y + 12, String(i + 1), { fill: C.muted, 'text-anchor': 'end' }));
      chip(nodes, x0 + 24, y, x);
      const bx = x0 + 24 + tokW + 8;
      nodes.push(s('rect', { x: bx, y: y + 4, width: 140, height: 8, rx: 2, fill: C.chip }));
      nodes.push(s('rect', { x: bx, y: y + 4, width: (140 * (x.prob ?? 0)) / max, height: 8, rx: 2, fill: C.accent }));
      nodes.push(text(bx + 190, y + 12, pct(x.prob), { 'text-anchor': 'end' }));
    });
  });
  return { nodes, width: cols.length * colW + (cols.length - 1) * 24, height: 22 + 10 * 22 };
}

function layersBody(t: Trace, names: Record<string, string>): Body {
  const pos = t.positions[t.positions.length - 1]!;
  const nodes: SVGElement[] = [];
  const N = 3;
  const tokensW = (l: LayerTrace, w: 'before' | 'after') => l[w].slice(0, N).reduce((a, x) => a + textWidth(label(x.text), MONO) + 12, 0);
  const subText = (su: LayerTrace['subUpdates'][number]) => `${su.name}${names[su.name] ? ` ${names[su.name]!.slice(0, 20)}` : ''} ${su.coef >= 0 ? '+' : '−'}${su.score.toFixed(2)}`;
  const subsW = (l: LayerTrace) => l.subUpdates.slice(0, N).reduce((a, su) => a + textWidth(subText(su), MONO) + 16, 0);
  const wB = Math.max(90, ...pos.layers.map((l) => tokensW(l, 'before')));
  const wS = Math.max(160, ...pos.layers.map(subsW));
  const wA = Math.max(90, ...pos.layers.map((l) => tokensW(l, 'after')));
  const x = [0, 44, 44 + wB + 12, 44 + wB + 12 + wS + 12, 44 + wB + 12 + wS + 12 + wA + 12];
  const W = x[4]! + 40;
  ['Layer', 'Before the FFN', 'Dominant sub-updates |m|·‖v‖', 'After the FFN', 'Rank'].forEach((hd, i) => nodes.push(text(i === 4 ? W : x[i]!, 12, hd, { fill: C.muted, 'font-weight': 600, ...(i === 4 ? { 'text-anchor': 'end' } : {}) })));
  pos.layers.forEach((l, r) => {
    const y = 22 + r * 24;
    nodes.push(s('line', { x1: 0, x2: W, y1: y + 21, y2: y + 21, stroke: C.line }));
    nodes.push(text(14, y + 13, String(l.layer), { 'text-anchor': 'middle' }));
    let cx = x[1]!;
    for (const tk of l.before.slice(0, N)) cx += chip(nodes, cx, y + 1, tk) + 4;
    cx = x[2]!;
    for (const su of l.subUpdates.slice(0, N)) {
      const str = subText(su);
      const w = textWidth(str, MONO) + 12;
      nodes.push(s('rect', { x: cx, y: y + 1, width: w, height: 16, rx: 8, fill: '#fff', stroke: su.coef >= 0 ? C.pos : C.neg }));
      nodes.push(s('text', { x: cx + 6, y: y + 13, fill: C.fg, style: { font: MONO, 'white-space': 'pre' } }, str));
      cx += w + 4;
    }
    cx = x[3]!;
    for (const tk of l.after.slice(0, N)) cx += chip(nodes, cx, y + 1, tk) + 4;
    nodes.push(text(W, y + 13, String(l.predictedRank.after + 1), { 'text-anchor': 'end' }));
  });
  return { nodes, width: W, height: 22 + pos.layers.length * 24 };
}

function lensBody(t: Trace): Body {
  const lens = t.lens ?? [];
  const nodes: SVGElement[] = [];
  if (!lens.length) return { nodes: [text(0, 12, 'This saved view has no logit lens over the positions.', { fill: C.muted })], width: 320, height: 16 };
  const L = t.model.nLayers;
  const cellW = lens.map((p) => Math.max(44, textWidth(label(t.tokens[p.position]!.text), MONO) + 10, ...p.layers.map((l) => textWidth(label(l.after[0]!.text), MONO) + 10)));
  const x0 = 36;
  const xs = cellW.reduce<number[]>((a, w) => [...a, a[a.length - 1]! + w + 2], [x0]);
  nodes.push(text(0, 12, 'Layer', { fill: C.muted, 'font-weight': 600 }));
  lens.forEach((p, j) => nodes.push(s('text', { x: xs[j]! + cellW[j]! / 2, y: 12, 'text-anchor': 'middle', fill: C.fg, style: { font: MONO, 'white-space': 'pre' } }, label(t.tokens[p.position]!.text))));
  for (let r = 0; r < L; r++) {
    const l = L - 1 - r;
    const y = 20 + r * 20;
    nodes.push(text(18, y + 13, String(l), { 'text-anchor': 'middle', fill: C.muted }));
    lens.forEach((p, j) => {
      const top = p.layers[l]!.after[0]!;
      const prob = top.prob ?? 0;
      const final = top.id === p.predicted.id;
      nodes.push(s('rect', { x: xs[j]!, y, width: cellW[j]!, height: 18, rx: 3, fill: `rgba(${C.lens},${(0.08 + 0.85 * prob).toFixed(3)})`, ...(final ? { stroke: C.changedLine, 'stroke-width': 2 } : {}) }));
      nodes.push(s('text', { x: xs[j]! + 5, y: y + 13, fill: prob > 0.5 ? '#fff' : C.fg, style: { font: MONO, 'white-space': 'pre' } }, label(top.text)));
    });
  }
  const W = Math.max(xs[xs.length - 1]!, 520);
  const caption = wrap('Top token of the logit lens after each FFN; the shade is its probability; outlined: the final prediction.', W);
  caption.forEach((ln, i) => nodes.push(text(0, 20 + L * 20 + 16 + i * 16, ln, { fill: C.muted })));
  return { nodes, width: W, height: 20 + L * 20 + 4 + caption.length * 16 };
}

function rankBody(t: Trace, layer: number | null): Body {
  const pos = t.positions[t.positions.length - 1]!;
  const { svg } = rankChart(pos, 640, layer);
  const W = Number(svg.getAttribute('width'));
  const H = Number(svg.getAttribute('height'));
  const g = s('g', null, ...Array.from(svg.childNodes).map((n) => n.cloneNode(true) as SVGElement));
  const legend = wrap(`rank of ${JSON.stringify(pos.predicted.text)} (log scale, left, blue) and its probability (right, amber)`, W).map((ln, i) => text(0, H + 14 + i * 16, ln, { fill: C.muted }));
  return { nodes: [g, ...legend], width: W, height: H + 2 + legend.length * 16 };
}

function attentionBody(t: Trace, layer: number | null): Body {
  const nodes: SVGElement[] = [];
  if (!t.attention) return { nodes: [text(0, 12, 'This saved view has no attention patterns (the prompt was too long to keep them).', { fill: C.muted })], width: 420, height: 16 };
  const { nLayers: L, nHeads: H } = t.model;
  const T = t.tokens.length;
  const l = Math.min(layer ?? L - 1, L - 1);
  const size = Math.max(60, Math.min(150, T * 10));
  const perRow = Math.max(1, Math.min(H, Math.floor(720 / (size + 12))));
  const c = size / T;
  for (let hd = 0; hd < H; hd++) {
    const gx = (hd % perRow) * (size + 12);
    const gy = Math.floor(hd / perRow) * (size + 26);
    nodes.push(text(gx, gy + 12, `L${l}H${hd}`, { fill: C.muted }));
    nodes.push(s('rect', { x: gx, y: gy + 16, width: size, height: size, fill: '#fff', stroke: C.line }));
    const off = (l * H + hd) * T * T;
    for (let q = 0; q < T; q++)
      for (let k = 0; k <= q; k++) {
        const a = t.attention.data[off + q * T + k]!;
        if (a < 0.02) continue;
        nodes.push(s('rect', { x: gx + k * c, y: gy + 16 + q * c, width: c, height: c, fill: `rgba(${C.attn},${Math.min(1, a).toFixed(3)})` }));
      }
  }
  const rows = Math.ceil(H / perRow);
  const key = t.tokens.map((tk, i) => `${i} ${label(tk.text)}`).join('   ');
  const keyLines = wrap(`Rows: query position; columns: the key it attends to. Positions: ${key}`, Math.min(perRow, H) * (size + 12) - 12);
  keyLines.forEach((ln, i) => nodes.push(text(0, rows * (size + 26) + 14 + i * 16, ln, { fill: C.muted })));
  return { nodes, width: Math.max(420, Math.min(perRow, H) * (size + 12)), height: rows * (size + 26) + keyLines.length * 16 + 4 };
}

/** The figure of one view of a saved view, as a standalone SVG element (not attached to the page). */
export function figureSvg(snap: Snapshot, view: ViewName): SVGSVGElement {
  const t = snapshotTrace(snap);
  const body =
    view === 'layers' ? layersBody(t, snap.names) : view === 'lens' ? lensBody(t) : view === 'rank' ? rankBody(t, snap.view.layer) : view === 'attention' ? attentionBody(t, snap.view.layer) : predictionBody(t);
  const { title, lines } = figureSummary(snap, view);
  const pad = 16;
  const W = Math.max(body.width, 480) + 2 * pad;
  const head: SVGElement[] = [text(pad, pad + 14, title, { 'font-weight': 700, style: { font: `bold 14px system-ui, sans-serif` } })];
  let y = pad + 20;
  for (const ln of [lines[0]!, lines[1]!]) for (const w of wrap(ln, W - 2 * pad)) head.push(text(pad, (y += 16), w, { fill: C.fg }));
  y += 12;
  const foot = y + body.height + 22;
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('xmlns', NS);
  svg.setAttribute('width', String(W));
  svg.setAttribute('height', String(foot + pad - 4));
  svg.setAttribute('viewBox', `0 0 ${W} ${foot + pad - 4}`);
  const meta = document.createElementNS(NS, 'metadata');
  const data = document.createElementNS(SNAPSHOT_NS, 'lmdbg:snapshot');
  data.textContent = JSON.stringify({ ...snap, view: { ...snap.view, open: view } });
  meta.append(data);
  svg.append(
    s('title', null, title),
    s('desc', null, lines.join('\n')),
    meta,
    s('style', null, CHART_STYLE),
    s('rect', { x: 0, y: 0, width: W, height: foot + pad - 4, fill: '#fff' }),
    ...head,
    s('g', { transform: `translate(${pad},${y})` }, ...body.nodes),
    text(pad, foot, lines[2]!, { fill: C.muted, style: { font: '11px system-ui, sans-serif' } }),
  );
  return svg;
}

/**
 * The file's text. Characters XML forbids (C0 controls but tab and newlines, lone surrogates) would make
 * the whole file unreadable, and tokens and prompts can hold them: they are drawn as their Unicode
 * control pictures (U+2400 + c) or U+FFFD. (The saved view in <metadata> is JSON: already escaped.)
 */
export function svgText(svg: SVGSVGElement): string {
  const xml = new XMLSerializer()
    .serializeToString(svg)
    .replace(/[\x00-\x08\x0b\x0c\x0e-\x1f]/g, (c) => String.fromCharCode(0x2400 + c.charCodeAt(0)))
    .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
  return `<?xml version="1.0" encoding="UTF-8"?>\n${xml}\n`;
}

// ---- PNG with the snapshot in a tEXt chunk

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();
function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** JSON with every character outside printable ASCII escaped (tEXt is Latin-1; this keeps it ASCII). */
function asciiJson(v: unknown): string {
  return JSON.stringify(v).replace(/[\u007f-\uffff]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function textChunk(keyword: string, value: string): Uint8Array {
  const body = new TextEncoder().encode(`${keyword}\0${value}`); // ASCII only: the same bytes in Latin-1
  const out = new Uint8Array(12 + body.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, body.length);
  out.set([0x74, 0x45, 0x58, 0x74], 4); // "tEXt"
  out.set(body, 8);
  dv.setUint32(8 + body.length, crc32(out.subarray(4, 8 + body.length)));
  return out;
}

/** The PNG with tEXt chunks inserted after IHDR. */
export function withTextChunks(png: Uint8Array, chunks: [string, string][]): Uint8Array<ArrayBuffer> {
  const ihdrEnd = 8 + 12 + new DataView(png.buffer, png.byteOffset).getUint32(8);
  const add = chunks.map(([k, v]) => textChunk(k, v));
  const out = new Uint8Array(png.length + add.reduce((a, c) => a + c.length, 0));
  out.set(png.subarray(0, ihdrEnd));
  let o = ihdrEnd;
  for (const c of add) {
    out.set(c, o);
    o += c.length;
  }
  out.set(png.subarray(ihdrEnd), o);
  return out;
}

/** Every tEXt chunk of a PNG, keyword -> text. */
export function pngTextChunks(png: Uint8Array): Map<string, string> {
  const out = new Map<string, string>();
  const dv = new DataView(png.buffer, png.byteOffset, png.byteLength);
  if (png.length < 8 || dv.getUint32(0) !== 0x89504e47) throw new Error('not a PNG file');
  for (let o = 8; o + 12 <= png.length; ) {
    const n = dv.getUint32(o);
    const type = String.fromCharCode(...png.subarray(o + 4, o + 8));
    if (o + 12 + n > png.length) break;
    if (type === 'tEXt') {
      const body = png.subarray(o + 8, o + 8 + n);
      const z = body.indexOf(0);
      if (z > 0) out.set(new TextDecoder('latin1').decode(body.subarray(0, z)), new TextDecoder('latin1').decode(body.subarray(z + 1)));
    }
    if (type === 'IEND') break;
    o += 12 + n;
  }
  return out;
}

/** The figure as PNG bytes at 2x (drawn from the SVG), with the snapshot and a description inside. */
export async function figurePng(snap: Snapshot, view: ViewName): Promise<Uint8Array<ArrayBuffer>> {
  const svg = figureSvg(snap, view);
  const W = Number(svg.getAttribute('width'));
  const H = Number(svg.getAttribute('height'));
  const url = URL.createObjectURL(new Blob([svgText(svg)], { type: 'image/svg+xml' }));
  try {
    const img = new Image();
    img.src = url;
    await img.decode();
    const cv = document.createElement('canvas');
    cv.width = W * 2;
    cv.height = H * 2;
    const g = cv.getContext('2d')!;
    g.scale(2, 2);
    g.drawImage(img, 0, 0, W, H);
    const blob = await new Promise<Blob>((ok, bad) => cv.toBlob((b) => (b ? ok(b) : bad(new Error('the browser could not encode the PNG'))), 'image/png'));
    const { title, lines } = figureSummary(snap, view);
    return withTextChunks(new Uint8Array(await blob.arrayBuffer()), [
      ['Title', asciiJson(title).slice(1, -1)],
      ['Description', asciiJson(lines.join(' | ')).slice(1, -1)],
      ['Software', `lmdbg ${snap.lmdbg}`],
      [PNG_KEYWORD, asciiJson({ ...snap, view: { ...snap.view, open: view } })],
    ]);
  } finally {
    URL.revokeObjectURL(url);
  }
}

/** A saved view from a dropped or chosen file: a snapshot (.json), or a figure (.svg, .png) that carries one. */
export async function snapshotFromFile(file: File): Promise<Snapshot> {
  const name = file.name.toLowerCase();
  if (name.endsWith('.png') || file.type === 'image/png') {
    const chunk = pngTextChunks(new Uint8Array(await file.arrayBuffer())).get(PNG_KEYWORD);
    if (!chunk) throw new Error(`${file.name} is a PNG without a saved view in it (lmdbg's exported figures carry one)`);
    return readSnapshot(chunk);
  }
  const content = await file.text();
  if (name.endsWith('.svg') || file.type === 'image/svg+xml') {
    const doc = new DOMParser().parseFromString(content, 'image/svg+xml');
    const el = doc.getElementsByTagNameNS(SNAPSHOT_NS, 'snapshot')[0];
    if (!el?.textContent) throw new Error(`${file.name} is an SVG without a saved view in it (lmdbg's exported figures carry one)`);
    return readSnapshot(el.textContent);
  }
  return readSnapshot(content);
}
