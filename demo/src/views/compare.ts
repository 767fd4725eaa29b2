// The clean run beside the run with interventions, layer by layer: how the logit lens, the rank of the
// predicted token and the ranking of the FFN sub-updates move. Reads the clean run's layers that the
// trace carries with interventions and the cleanLayers option (positions[i].clean.layers).
import type { LayerTrace, PositionTrace, ScoredToken, SubUpdate } from 'lmdbg';
import type { App } from '../app';
import { $, fit, h, redrawOnResize, replace, runLabel, s, tokenEl } from '../dom';
import { subUpdateChip } from './layers';

const SUBS = 3;

/** The clean run's layers, when the trace has them. */
function cleanLayers(pos: PositionTrace): LayerTrace[] | null {
  const layers = pos.clean?.layers;
  return layers && layers.length === pos.layers.length ? layers : null;
}

/** Rank (1-based) of a token in a lens list, or null when it is not in the list. */
function rankIn(list: ScoredToken[], id: number): number | null {
  const i = list.findIndex((t) => t.id === id);
  return i < 0 ? null : i + 1;
}

function rankText(r: number | null, listed: number): string {
  return r === null ? `> ${listed}` : String(r);
}

/**
 * How a rank moved from the clean run to the run with interventions (smaller is better): ↑n, ↓n, =, "new"
 * (entered the listed top `k`), "out" (left it); nothing when neither rank is known well enough.
 */
function moved(from: number | null, to: number | null, k: number): HTMLElement | null {
  if (from === to) return h('span', { class: 'move same', title: 'the same in both runs' }, '=');
  if (from === null) return to! <= k ? h('span', { class: 'move up', title: `not in the clean run’s top ${k}` }, 'new') : null;
  if (to === null) return from <= k ? h('span', { class: 'move down', title: `not in this run’s top ${k}` }, 'out') : null;
  return h('span', { class: ['move', to < from ? 'up' : 'down'], title: `rank ${from} in the clean run` }, `${to < from ? '↑' : '↓'}${Math.abs(from - to)}`);
}

/** The intervened run's top sub-updates, each with how it moved from the clean ranking; then the ones that fell out. */
function subUpdates(app: App, clean: SubUpdate[], now: SubUpdate[]): HTMLElement {
  const cleanRank = (name: string) => {
    const i = clean.findIndex((x) => x.name === name);
    return i < 0 ? null : i + 1;
  };
  const out = clean.slice(0, SUBS).filter((c) => !now.some((x) => x.name === c.name));
  return h(
    'span',
    { class: 'fit' },
    now.slice(0, SUBS).map((su, i) => h('span', { class: 'moved-chip' }, subUpdateChip(app, su), moved(cleanRank(su.name), i + 1, clean.length))),
    out.map((su) => h('span', { class: 'moved-chip gone', title: `${su.name} was rank ${cleanRank(su.name)} in the clean run and is not among this run’s dominant sub-updates` }, h('span', { class: 'chip-name' }, su.name), h('span', { class: 'move down' }, 'out'))),
  );
}

/** Rank (log scale) of the predicted token after each layer's FFN in both runs, the clean run dashed. */
function chart(width: number, clean: LayerTrace[], now: LayerTrace[], tok: { text: string }): SVGSVGElement {
  const W = Math.round(Math.min(760, Math.max(240, width || 640)));
  const H = 170, ml = 34, mr = 12, mt = 10, mb = 28;
  const iw = W - ml - mr, ih = H - mt - mb;
  const n = now.length;
  const maxRank = Math.max(10, ...now.map((l) => l.predictedRank.after + 1), ...clean.map((l) => l.predictedRank.after + 1));
  const logMax = Math.log10(maxRank);
  const x = (l: number) => ml + (n === 1 ? iw / 2 : (l * iw) / (n - 1));
  const y = (r: number) => mt + (Math.log10(r + 1) / logMax) * ih;
  const path = (ls: LayerTrace[]) => ls.map((l, i) => `${i ? 'L' : 'M'}${x(i).toFixed(1)},${y(l.predictedRank.after).toFixed(1)}`).join('');
  const marks: SVGElement[] = [];
  for (let r = 1; r <= maxRank; r *= 10) {
    marks.push(s('line', { x1: ml, x2: W - mr, y1: y(r - 1), y2: y(r - 1), class: 'grid' }));
    marks.push(s('text', { x: ml - 6, y: y(r - 1) + 4, 'text-anchor': 'end', class: 'axis' }, String(r)));
  }
  const every = Math.max(1, Math.ceil(24 / Math.max(1, x(1) - x(0))));
  for (let l = 0; l < n; l += every) marks.push(s('text', { x: x(l), y: H - mb + 16, 'text-anchor': 'middle', class: 'axis' }, String(l)));
  return s(
    'svg',
    { viewBox: `0 0 ${W} ${H}`, width: W, height: H, class: 'chart', role: 'img', 'aria-label': `Rank of ${JSON.stringify(tok.text)} after each layer's FFN, in the clean run and with the interventions; the table below has the numbers` },
    marks,
    s('text', { x: ml + iw / 2, y: H - 2, 'text-anchor': 'middle', class: 'axis' }, 'layer (after its FFN)'),
    s('path', { d: path(clean), class: 'line clean' }),
    s('path', { d: path(now), class: 'line rank' }),
  );
}

export function compareView(app: App): void {
  const panel = $('#panel-compare', app.root);
  const render = () => {
    const t = app.trace;
    const pos = t?.positions[t.positions.length - 1];
    const intro = h('p', { class: 'small muted' }, 'The clean run beside the run with interventions, layer by layer: the top token of the logit lens after each FFN, the rank of each run’s prediction, and how the dominant sub-updates moved.');
    if (!t || !pos?.clean) {
      replace(panel, intro, h('p', { class: 'muted placeholder' }, t ? 'No interventions are active: there is only the clean run. Add one (for example Off or On on a sub-update) to compare.' : 'Trace a prompt, then add an intervention to compare the two runs.'));
      return;
    }
    const clean = cleanLayers(pos);
    if (!clean) {
      replace(panel, intro, h('p', { class: 'muted placeholder' }, 'This trace does not carry the clean run’s layers, so the two runs cannot be compared layer by layer here.'));
      return;
    }
    const cTok = pos.clean.predicted;
    const iTok = pos.predicted;
    const changed = cTok.id !== iTok.id;
    const K = t.options.topK;
    const rankCell = (id: number, c: LayerTrace, now: LayerTrace, own: 'clean' | 'now') => {
      // Each run's own prediction has its exact rank; the other token only when it is in the lens top-k.
      const a = own === 'clean' ? c.predictedRank.after + 1 : rankIn(c.after, id);
      const b = own === 'now' ? now.predictedRank.after + 1 : rankIn(now.after, id);
      return h('td', { class: 'num' }, `${rankText(a, K)} → ${rankText(b, K)} `, moved(a, b, K));
    };
    const head = h(
      'tr',
      null,
      h('th', { scope: 'col', class: 'c-layer' }, 'Layer'),
      h('th', { scope: 'col', class: 'c-top' }, 'Top token after the FFN: clean → with interventions'),
      h('th', { scope: 'col', class: 'c-rank' }, 'Rank of ', tokenEl(cTok)),
      changed ? h('th', { scope: 'col', class: 'c-rank' }, 'Rank of ', tokenEl(iTok)) : null,
      h('th', { scope: 'col', class: 'c-subs' }, 'Dominant sub-updates with interventions (moves against the clean ranking)'),
    );
    const rows = pos.layers.map((now, l) => {
      const c = clean[l]!;
      const same = c.after[0]?.id === now.after[0]?.id;
      return h(
        'tr',
        { class: ['layer-row', app.layer === l && 'selected', !same && 'differs'], 'data-layer': l },
        h('th', { scope: 'row' }, h('button', { type: 'button', class: 'layer-btn', 'aria-pressed': String(app.layer === l), 'aria-label': `Layer ${l}: show in full`, on: { click: () => app.selectLayer(app.layer === l ? null : l) } }, String(l))),
        h('td', null, h('span', { class: 'fit' }, c.after[0] ? tokenEl(c.after[0]) : null, h('span', { class: 'muted' }, same ? '=' : '→'), same ? null : now.after[0] ? tokenEl(now.after[0]) : null)),
        rankCell(cTok.id, c, now, 'clean'),
        changed ? rankCell(iTok.id, c, now, 'now') : null,
        h('td', null, subUpdates(app, c.subUpdates, now.subUpdates)),
      );
    });
    const table = h(
      'table',
      { class: 'layer-table compare-table' },
      h('caption', { class: 'sr-only' }, 'Per layer: the clean run and the run with interventions'),
      h('thead', null, head),
      h('tbody', null, rows),
    );
    // Both runs' ranks of one token are exact only when they predict the same token: then a chart; when the
    // interventions changed the prediction, the table gives each token's rank wherever it is in the top k.
    replace(
      panel,
      intro,
      changed
        ? h('p', { class: 'small' }, h('span', { class: 'run-label clean' }, 'clean run'), ' predicts ', tokenEl(cTok), ', the ', runLabel(t), ' ', tokenEl(iTok), `: the table gives each one’s rank in both runs (“> ${K}” when it is not in the lens top ${K}).`)
        : [
            h('p', { class: 'legend small' }, 'Rank of ', tokenEl(iTok), ' in the ', h('span', { class: 'key clean' }, 'clean run'), ' and the ', h('span', { class: 'key rank' }, ''), runLabel(t)),
            chart(panel.clientWidth, clean, pos.layers, iTok),
          ],
      h('div', { class: 'scroll-x' }, table),
    );
    for (const f of table.querySelectorAll<HTMLElement>('.fit')) fit(f);
  };
  redrawOnResize(panel, render);
  app.on('trace', render);
  app.on('model', render);
  app.on('layer', render);
  app.on('names', render);
  render();
}
