// Attention patterns: every head of one layer as a thumbnail, and the chosen head in full with the prompt's
// tokens on both axes. Canvas text is drawn as text (fillText), never parsed. Arrow keys move a cursor over
// the chosen head; the cell under it is described in words.
import type { App } from '../app';
import { $, h, replace, runLabel, shortText, tokenLabel } from '../dom';

function ink(el: Element): string {
  return getComputedStyle(el).getPropertyValue('--attn').trim() || '31,78,121';
}

function drawHead(cv: HTMLCanvasElement, data: Float32Array, off: number, T: number, size: number, rgb: string, cursor?: [number, number]): void {
  const dpr = window.devicePixelRatio || 1;
  cv.width = Math.round(size * dpr);
  cv.height = Math.round(size * dpr);
  cv.style.setProperty('width', `${size}px`);
  cv.style.setProperty('height', `${size}px`);
  const g = cv.getContext('2d');
  if (!g) return;
  g.scale(dpr, dpr);
  const c = size / T;
  g.clearRect(0, 0, size, size);
  for (let q = 0; q < T; q++)
    for (let k = 0; k <= q; k++) {
      const a = data[off + q * T + k];
      g.fillStyle = `rgba(${rgb},${Math.min(1, Math.max(0.03, a)).toFixed(3)})`;
      g.fillRect(k * c, q * c, Math.ceil(c), Math.ceil(c));
    }
  if (cursor) {
    g.strokeStyle = '#d9480f';
    g.lineWidth = 2;
    g.strokeRect(cursor[1] * c + 1, cursor[0] * c + 1, c - 2, c - 2);
  }
}

export function attentionView(app: App): void {
  const panel = $('#panel-attn', app.root);
  let layer = 0;
  let head = 0;
  let cursor: [number, number] = [0, 0];
  const layerSel = h('select', { id: 'attn-layer' });
  const grid = h('div', { class: 'head-grid', role: 'group', 'aria-label': 'Heads of the layer' });
  const big = h('canvas', { class: 'attn-big', tabindex: '0', role: 'img' });
  const readout = h('p', { class: 'small readout', 'aria-live': 'polite' });
  const rowLabels = h('ol', { class: 'attn-rows', 'aria-hidden': 'true' });
  const colLabels = h('ol', { class: 'attn-cols', 'aria-hidden': 'true' });
  const body = h('div', { class: 'attn-body' });
  const run = h('p', { class: 'view-run small' });
  replace(
    panel,
    run,
    h('div', { class: 'row' }, h('label', { for: 'attn-layer' }, 'Layer '), layerSel, h('span', { class: 'small muted' }, ' Rows: query position; columns: the key it attends to.')),
    body,
  );
  layerSel.addEventListener('change', () => {
    layer = Number(layerSel.value);
    render();
  });

  const describe = () => {
    const t = app.trace;
    if (!t?.attention) return;
    const T = t.tokens.length;
    const [q, k] = cursor;
    const a = t.attention.data[((layer * t.model.nHeads + head) * T + q) * T + k];
    readout.textContent = `Layer ${layer}, head ${head}: ${JSON.stringify(t.tokens[q].text)} (position ${q}) attends to ${JSON.stringify(t.tokens[k].text)} (position ${k}) with weight ${a.toFixed(3)}`;
  };

  const drawBig = () => {
    const t = app.trace;
    if (!t?.attention) return;
    const T = t.tokens.length;
    const H = t.model.nHeads;
    // Rows and columns tall enough for their labels; a long prompt scrolls (.attn-scroll).
    const room = Math.min(420, (panel.clientWidth || 420) - rowLabels.offsetWidth - 8);
    const cell = Math.max(16, Math.min(40, Math.floor(room / T)));
    const size = cell * T;
    drawHead(big, t.attention.data, (layer * H + head) * T * T, T, size, ink(panel), cursor);
    big.setAttribute('aria-label', `Attention of layer ${layer}, head ${head}. Use the arrow keys to read the weights.`);
    rowLabels.style.setProperty('grid-template-rows', `repeat(${T}, ${cell}px)`);
    for (const li of colLabels.children) (li as HTMLElement).style.setProperty('width', `${cell}px`);
    describe();
  };

  big.addEventListener('keydown', (e: KeyboardEvent) => {
    const T = app.trace?.tokens.length ?? 0;
    if (!T) return;
    let [q, k] = cursor;
    if (e.key === 'ArrowDown') q = Math.min(T - 1, q + 1);
    else if (e.key === 'ArrowUp') q = Math.max(0, q - 1);
    else if (e.key === 'ArrowRight') k = k + 1;
    else if (e.key === 'ArrowLeft') k = Math.max(0, k - 1);
    else return;
    e.preventDefault();
    cursor = [q, Math.min(k, q)];
    drawBig();
  });
  big.addEventListener('click', (e: MouseEvent) => {
    const T = app.trace?.tokens.length ?? 0;
    const r = big.getBoundingClientRect();
    const q = Math.floor(((e.clientY - r.top) / r.height) * T);
    const k = Math.floor(((e.clientX - r.left) / r.width) * T);
    if (q >= 0 && q < T && k >= 0) {
      cursor = [q, Math.min(k, q)];
      drawBig();
    }
  });

  const render = () => {
    const t = app.trace;
    replace(run, runLabel(t));
    if (!t?.attention) {
      replace(body, h('p', { class: 'muted placeholder' }, t ? `This prompt (${t.tokens.length} tokens) is too long for the attention view; trace a shorter one.` : 'Trace a prompt to see the attention patterns.'));
      replace(layerSel);
      return;
    }
    const L = t.model.nLayers, H = t.model.nHeads, T = t.tokens.length;
    if (layerSel.options.length !== L) replace(layerSel, Array.from({ length: L }, (_, l) => h('option', { value: l }, String(l))));
    layer = Math.min(layer, L - 1);
    head = Math.min(head, H - 1);
    cursor = [Math.min(cursor[0], T - 1), Math.min(cursor[1], T - 1)];
    layerSel.value = String(layer);
    const thumbs = [];
    for (let hd = 0; hd < H; hd++) {
      const cv = h('canvas', { 'aria-hidden': 'true' });
      drawHead(cv, t.attention.data, (layer * H + hd) * T * T, T, 64, ink(panel));
      thumbs.push(
        h(
          'button',
          { type: 'button', class: ['head', hd === head && 'on'], 'aria-pressed': String(hd === head), 'aria-label': `Head ${hd}`, on: { click: () => { head = hd; render(); } } },
          cv,
          h('span', null, `H${hd}`),
        ),
      );
    }
    replace(grid, thumbs);
    // Labels are aria-hidden (the readout says the same); long tokens are shortened, whole in the title.
    const label = (tok: { text: string }) => shortText(tokenLabel(tok.text)).shown;
    replace(rowLabels, t.tokens.map((tok, i) => h('li', { title: JSON.stringify(tok.text) }, `${i} ${label(tok)}`)));
    replace(colLabels, t.tokens.map((tok) => h('li', { title: JSON.stringify(tok.text) }, label(tok))));
    replace(body, grid, h('div', { class: 'attn-scroll' }, h('div', { class: 'attn-main' }, h('span'), colLabels, rowLabels, big)), readout);
    drawBig();
  };
  app.on('trace', render);
  app.on('model', render);
  app.on('layer', () => {
    if (app.layer !== null && app.layer !== layer) {
      layer = app.layer;
      render();
    }
  });
  if (app.layer !== null) layer = app.layer;
  render();
}
