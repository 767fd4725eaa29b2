// The logit lens over layers × positions (a trace with positions 'all'), and the predicted token's rank and
// probability through the layers (before and after each FFN).
import type { PositionTrace } from 'lmdbg';
import type { App } from '../app';
import { $, fieldError, fmt, fullTextAttrs, h, pct, redrawOnResize, replace, runLabel, s, shortText, tokenEl, tokenLabel } from '../dom';

export interface RankPoint {
  label: string;
  layer: number;
  rank: number;
  prob: number;
  /** The followed tokens' (TraceOptions.track), in their order. */
  tracked: { rank: number; prob: number }[];
}

export function lensView(app: App): void {
  const panel = $('#panel-lens', app.root);
  let which: 'after' | 'before' = 'after';
  const toggle = h(
    'div',
    { class: 'row small', role: 'radiogroup', 'aria-label': 'Lens of' },
    (['after', 'before'] as const).map((w) =>
      h(
        'label',
        null,
        h('input', { type: 'radio', name: 'lens-which', value: w, props: { checked: w === which }, on: { change: () => { which = w; render(); } } }),
        w === 'after' ? ' after each FFN (resid_post)' : ' before each FFN (resid_mid)',
      ),
    ),
  );
  const body = h('div', { class: 'lens-body' });
  const run = h('p', { class: 'view-run small' });
  replace(panel, h('p', { class: 'small muted' }, 'Top token of softmax(wte · ln_f(x)) at every layer and position; the shade is its probability. Outlined cells already hold the final prediction.'), run, toggle, body);

  const render = () => {
    const t = app.trace;
    const lens = t?.lens;
    replace(run, runLabel(t));
    if (!t || !lens) {
      // Same height as the coming table (one row per layer), so nothing below moves.
      const n = app.config?.nLayers ?? 0;
      const rows = Array.from({ length: n }, (_, i) => h('tr', null, h('th', { scope: 'row' }, h('span', { class: 'layer-btn ghost' }, String(n - 1 - i))), h('td', { class: 'lens-cell ghost' }, '\u00a0')));
      replace(
        body,
        h('div', { class: 'scroll-x' }, h('table', { class: 'lens-table skeleton', 'aria-hidden': 'true' }, h('caption', { class: 'sr-only' }, 'Logit lens'), h('thead', null, h('tr', null, h('th', null, 'Layer'), h('th', { class: 'lens-col' }, h('span', { class: 'tok' }, app.trace ? '…' : '\u00a0')))), h('tbody', null, rows))),
      );
      return;
    }
    const L = t.model.nLayers;
    const skipped = t.tokens.length - lens.length;
    const head = h('tr', null, h('th', { scope: 'col' }, 'Layer'), lens.map((p) => h('th', { scope: 'col', class: 'lens-col' }, tokenEl(t.tokens[p.position]))));
    const rows = [];
    for (let l = L - 1; l >= 0; l--) {
      rows.push(
        h(
          'tr',
          { class: app.layer === l ? 'selected' : '' },
          h('th', { scope: 'row' }, h('button', { type: 'button', class: 'layer-btn', 'aria-label': `Select layer ${l}`, on: { click: () => app.selectLayer(l) } }, String(l))),
          lens.map((p) => {
            const top = p.layers[l][which][0];
            const prob = top.prob ?? 0;
            const final = top.id === p.predicted.id;
            const title = `layer ${l}, after ${JSON.stringify(t.tokens[p.position].text)}: ${JSON.stringify(top.text)} ${pct(prob)}`;
            const label = tokenLabel(top.text);
            const { shown, long } = shortText(label);
            return h(
              'td',
              { class: ['lens-cell', final && 'final', prob > 0.5 && 'dark'], style: { '--p': prob.toFixed(3) }, title, ...(long ? fullTextAttrs(label, title) : {}) },
              shown,
            );
          }),
        ),
      );
    }
    replace(
      body,
      skipped > 0 ? h('p', { class: 'small muted' }, `The last ${lens.length} of ${t.tokens.length} positions.`) : null,
      h(
        'div',
        { class: 'scroll-x' },
        h('table', { class: 'lens-table' }, h('caption', { class: 'sr-only' }, `Logit lens ${which} the FFN: top token per layer (rows, last layer first) and position (columns)`), h('thead', null, head), h('tbody', null, rows)),
      ),
    );
  };
  app.on('trace', render);
  app.on('model', render);
  app.on('layer', render);
  render();
}

/** Colours of the followed tokens' lines (CSS classes t0..t5). */
const TRACK_CLASSES = ['t0', 't1', 't2', 't3', 't4', 't5'];

export function rankView(app: App): void {
  const panel = $('#panel-rank', app.root);
  // Followed tokens (the page only): typed one at a time, shown as chips that remove them.
  const input = h('input', { id: 'track-q', type: 'text', placeholder: 'e.g. " Paris"', maxlength: '60', autocomplete: 'off', spellcheck: 'false' });
  const error = fieldError(input, 'track-error');
  const chips = h('span', { class: 'track-chips' });
  const form = h('form', { class: 'row track-form' }, h('label', { for: 'track-q' }, 'Also follow '), input, h('button', { type: 'submit' }, 'Add'), chips);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void app.addTrack(input.value).then((why) => {
      error.show(why);
      if (!why) input.value = '';
    });
  });
  const body = h('div');
  if (!app.embed) replace(panel, form, error.el, body);
  else replace(panel, body);
  const renderChips = (pos: PositionTrace | null) => {
    replace(
      chips,
      app.track.map((id, k) => {
        const tok = pos?.layers[0].tracked?.find((x) => x.id === id) ?? { id, text: `#${id}` };
        return h(
          'span',
          { class: ['track-chip', TRACK_CLASSES[k]] },
          tokenEl(tok),
          h('button', { type: 'button', class: 'link', 'aria-label': `Stop following ${JSON.stringify(tok.text)}`, title: 'Stop following', on: { click: () => app.setTrack(app.track.filter((x) => x !== id)) } }, '×'),
        );
      }),
    );
  };
  const render = () => {
    const t = app.trace;
    renderChips(t ? t.positions[t.positions.length - 1] : null);
    if (!t) {
      replace(body, h('p', { class: 'view-run small' }, runLabel(null)), h('p', { class: 'muted placeholder' }, 'Trace a prompt to follow the predicted token through the layers.'));
      return;
    }
    const pos = t.positions[t.positions.length - 1];
    const { svg, pts } = rankChart(pos, panel.clientWidth || 640, app.layer);
    const followed = (pos.layers[0].tracked ?? []).map((x) => ({ id: x.id, text: x.text }));
    const legend = h(
      'p',
      { class: 'legend small' },
      runLabel(t), ' ', h('span', { class: 'key rank' }, 'rank (log scale, left)'), ' ', h('span', { class: 'key prob' }, 'probability (right)'), ' of ', tokenEl(pos.predicted),
      followed.length ? [' · rank of ', followed.map((f, k) => h('span', { class: ['key', 'tracked', TRACK_CLASSES[k]] }, tokenEl(f)))] : null,
    );
    const cols = [h('th', { scope: 'col' }, 'Layer'), h('th', { scope: 'col' }, 'Rank'), h('th', { scope: 'col' }, 'Probability'), followed.map((f) => [h('th', { scope: 'col' }, 'Rank of ', tokenEl(f)), h('th', { scope: 'col' }, 'Probability')])];
    const table = h(
      'details',
      null,
      h('summary', null, 'Numbers'),
      h(
        'div',
        { class: 'scroll-x' },
        h('table', { class: 'num-table' }, h('thead', null, h('tr', null, cols)), h('tbody', null, pts.map((p) => h('tr', null, h('th', { scope: 'row' }, p.label), h('td', { class: 'num' }, String(p.rank + 1)), h('td', { class: 'num' }, fmt(p.prob, 4)), p.tracked.map((q) => [h('td', { class: 'num' }, String(q.rank + 1)), h('td', { class: 'num' }, fmt(q.prob, 4))]))))),
      ),
    );
    replace(body, legend, svg, table);
  };
  // Drawn at the panel's own width, so that its text keeps its size (a scaled SVG shrinks it).
  redrawOnResize(panel, render);
  app.on('trace', render);
  app.on('model', render);
  app.on('layer', render);
  render();
}

/**
 * The predicted token's rank (log scale, left axis) and probability (right axis) before and after each
 * layer's FFN, drawn at `width` px: the view and its exported figure (figures.ts) are this one chart.
 */
export function rankChart(pos: PositionTrace, width: number, selected: number | null): { svg: SVGSVGElement; pts: RankPoint[] } {
  const pts: RankPoint[] = [];
  for (const l of pos.layers)
    for (const side of ['before', 'after'] as const)
      pts.push({
        label: `${l.layer} ${side} FFN`,
        layer: l.layer,
        rank: l.predictedRank[side],
        prob: l.predictedProb[side],
        tracked: (l.tracked ?? []).map((x) => ({ rank: x.rank[side], prob: x.prob[side] })),
      });
  const followed = pos.layers[0].tracked ?? [];
  const W = Math.round(Math.min(760, Math.max(200, width)));
  const H = Math.round(Math.min(220, Math.max(150, W * 0.4)));
  const maxRank = Math.max(10, ...pts.map((p) => p.rank + 1), ...pts.flatMap((p) => p.tracked.map((x) => x.rank + 1)));
  // Room on the left for the longest rank label (a followed token can rank in the ten thousands).
  const ml = Math.max(34, 12 + 7.5 * String(10 ** Math.floor(Math.log10(maxRank))).length), mr = 38, mt = 12, mb = 34;
  const iw = W - ml - mr, ih = H - mt - mb;
  const logMax = Math.log10(maxRank);
  const x = (i: number) => ml + (pts.length === 1 ? iw / 2 : (i * iw) / (pts.length - 1));
  const yr = (r: number) => mt + (Math.log10(r + 1) / logMax) * ih; // rank 0 at the top
  const yp = (p: number) => mt + (1 - p) * ih;
  const pathOf = (ys: number[]) => ys.map((y, i) => `${i ? 'L' : 'M'}${x(i).toFixed(1)},${y.toFixed(1)}`).join('');
  const rankPath = pathOf(pts.map((p) => yr(p.rank)));
  const probPath = pathOf(pts.map((p) => yp(p.prob)));
  const ticks: SVGElement[] = [];
  for (let r = 1; r <= maxRank; r *= 10) {
    ticks.push(s('line', { x1: ml, x2: W - mr, y1: yr(r - 1), y2: yr(r - 1), class: 'grid' }));
    ticks.push(s('text', { x: ml - 6, y: yr(r - 1) + 4, 'text-anchor': 'end', class: 'axis rank' }, String(r)));
  }
  for (const p of [0, 0.5, 1]) ticks.push(s('text', { x: W - mr + 6, y: yp(p) + 4, class: 'axis prob' }, `${p * 100}%`));
  // Layer numbers at least 24 px apart, so that they never run into each other.
  const every = Math.max(1, Math.ceil(24 / Math.max(1, x(2) - x(0))));
  for (const l of pos.layers) {
    const i = 2 * l.layer;
    if (l.layer % every === 0) ticks.push(s('text', { x: (x(i) + x(i + 1)) / 2, y: H - mb + 16, 'text-anchor': 'middle', class: 'axis' }, String(l.layer)));
    if (selected === l.layer) ticks.push(s('rect', { x: x(i) - 4, y: mt, width: x(i + 1) - x(i) + 8, height: ih, class: 'sel' }));
  }
  const svg = s(
    'svg',
    { viewBox: `0 0 ${W} ${H}`, width: W, height: H, class: 'chart', role: 'img', 'aria-label': `Rank and probability of the predicted token ${JSON.stringify(pos.predicted.text)}${followed.length ? ` and the rank of ${followed.map((f) => JSON.stringify(f.text)).join(', ')}` : ''} through the layers; the table below has the numbers` },
    ticks,
    s('text', { x: ml + iw / 2, y: H - 4, 'text-anchor': 'middle', class: 'axis' }, 'layer (before → after FFN)'),
    followed.map((_f, k) => s('path', { d: pathOf(pts.map((p) => yr(p.tracked[k].rank))), class: `line tracked ${TRACK_CLASSES[k]}` })),
    s('path', { d: rankPath, class: 'line rank' }),
    s('path', { d: probPath, class: 'line prob' }),
    followed.map((f, k) => pts.map((p, i) => s('circle', { cx: x(i), cy: yr(p.tracked[k].rank), r: 2.5, class: `dot tracked ${TRACK_CLASSES[k]}` }, s('title', null, `${JSON.stringify(f.text)}, layer ${p.label}: rank ${p.tracked[k].rank + 1}, p ${pct(p.tracked[k].prob)}`)))),
    pts.map((p, i) => s('circle', { cx: x(i), cy: yr(p.rank), r: 3, class: 'dot rank' }, s('title', null, `layer ${p.label}: rank ${p.rank + 1}`))),
    pts.map((p, i) => s('circle', { cx: x(i), cy: yp(p.prob), r: 3, class: 'dot prob' }, s('title', null, `layer ${p.label}: p ${pct(p.prob)}`))),
  );
  return { svg, pts };
}
