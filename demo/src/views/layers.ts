// LM-Debugger's per-layer view: the lens before the FFN, the dominant sub-updates (L{l}D{i}, score, sign),
// the attention heads (L{l}H{h}, norm, sign of their direct effect), the lens after the FFN. A selected
// layer opens in full below the table.
import type { HeadUpdate, LayerTrace, SubUpdate } from 'lmdbg';
import type { App } from '../app';
import { $, fit, fmt, h, pct, replace, runLabel, shortText, tokenEl } from '../dom';

const SHOWN = 4;
/** A button has no field to show an error next to (the only one possible: too many interventions). */
const report = (app: App, why: string | null) => why && app.toast(why);
const SHOWN_SUBS = 3;
const SHOWN_HEADS = 2;

export function subUpdateChip(app: App, su: SubUpdate, extra = ''): HTMLButtonElement {
  const label = app.names.get(su.name);
  const sign = su.coef >= 0 ? '+' : '−';
  // A user's name can be long: shortened here, whole in the title and the accessible name.
  const shown = label ? shortText(label, 20).shown : '';
  return h(
    'button',
    {
      type: 'button',
      class: ['chip', su.coef >= 0 ? 'pos' : 'neg', extra],
      'data-name': su.name,
      title: `${su.name}${label ? ` “${label}”` : ''}: score |m|·‖v‖ = ${fmt(su.score)}, coefficient m = ${fmt(su.coef)}, direct effect on the prediction ${fmt(su.direct)}`,
      'aria-label': `${su.name}${label ? ` (${label})` : ''}, score ${fmt(su.score, 2)}, coefficient ${su.coef >= 0 ? 'positive' : 'negative'}. Open details`,
      on: { click: () => app.openDetail(su.layer, su.index) },
    },
    h('span', { class: 'chip-name' }, label ? `${su.name} ${shown}` : su.name),
    h('span', { class: 'chip-score' }, `${sign}${fmt(su.score, 2)}`),
  );
}

/** An attention head's output: its norm, signed by its direct effect on the prediction (ranked as sub-updates are). */
export function headChip(app: App, hu: HeadUpdate): HTMLButtonElement {
  const up = hu.direct >= 0;
  return h(
    'button',
    {
      type: 'button',
      class: ['chip', 'head-chip', up ? 'pos' : 'neg'],
      'data-name': hu.name,
      title: `${hu.name}: head output ‖result‖ = ${fmt(hu.norm)}, direct effect on the prediction ${fmt(hu.direct)}`,
      'aria-label': `${hu.name}, norm ${fmt(hu.norm, 2)}, ${up ? 'raises' : 'lowers'} the prediction. Show layer ${hu.layer} in full`,
      on: { click: () => app.selectLayer(hu.layer) },
    },
    h('span', { class: 'chip-name' }, hu.name),
    h('span', { class: 'chip-score' }, `${up ? '+' : '−'}${fmt(hu.norm, 2)}`),
  );
}

/** One line of whole chips in a table cell (fit() hides the ones that do not fit). */
function tokens(list: { id: number; text: string; prob?: number }[], n: number): HTMLElement {
  return h('span', { class: 'fit' }, list.slice(0, n).map((t) => tokenEl(t, { title: `${JSON.stringify(t.text)} ${pct(t.prob)}` })));
}

export function layersView(app: App): void {
  const el = $('#layers', app.root);
  const detail = $('#layer-detail', app.root);

  const render = () => {
    const t = app.trace;
    if (!t) {
      // A skeleton of the same geometry, so the first trace does not move the page.
      const n = app.config?.nLayers ?? 0;
      replace(el, h('p', { class: 'view-run small' }, runLabel(null)), n ? h('div', { class: 'scroll-x' }, skeletonTable(n)) : h('p', { class: 'muted placeholder' }, 'Load a model to see its layers.'));
      renderDetail();
      return;
    }
    const pos = t.positions[t.positions.length - 1];
    const table = h(
      'table',
      { class: 'layer-table' },
      h('caption', { class: 'sr-only' }, 'Per layer: top tokens of the logit lens before and after the FFN, the dominant FFN sub-updates and attention heads'),
      header(),
      h(
        'tbody',
        null,
        pos.layers.map((l) =>
          h(
            'tr',
            { class: ['layer-row', app.layer === l.layer && 'selected'], 'data-layer': l.layer },
            h(
              'th',
              { scope: 'row' },
              h('button', { type: 'button', class: 'layer-btn', 'aria-pressed': String(app.layer === l.layer), 'aria-label': `Layer ${l.layer}: show in full`, on: { click: () => app.selectLayer(app.layer === l.layer ? null : l.layer) } }, String(l.layer)),
            ),
            h('td', null, tokens(l.before, SHOWN)),
            h('td', null, h('span', { class: 'fit' }, l.subUpdates.slice(0, SHOWN_SUBS).map((su) => subUpdateChip(app, su)))),
            h('td', null, h('span', { class: 'fit' }, (l.heads ?? []).slice(0, SHOWN_HEADS).map((hu) => headChip(app, hu)))),
            h('td', null, tokens(l.after, SHOWN)),
            h('td', { class: 'num' }, String(l.predictedRank.after + 1)),
          ),
        ),
      ),
    );
    replace(el, h('p', { class: 'view-run small' }, runLabel(t), ' at the last position, after ', tokenEl(t.tokens[t.tokens.length - 1])), h('div', { class: 'scroll-x' }, table));
    for (const f of table.querySelectorAll<HTMLElement>('.fit')) fit(f);
    renderDetail();
  };

  const renderDetail = () => {
    const t = app.trace;
    const n = app.config?.nLayers ?? 0;
    if (app.layer === null || app.layer >= n) {
      replace(detail, h('p', { class: 'muted small hint-line' }, n ? 'Select a layer number to see all its tokens and sub-updates.' : ''));
      return;
    }
    const pos = t?.positions[t.positions.length - 1];
    replace(detail, pos ? layerDetail(app, pos.layers[app.layer]) : layerSkeleton(app.layer));
  };

  app.on('trace', render);
  app.on('model', render);
  app.on('layer', () => {
    for (const row of el.querySelectorAll<HTMLElement>('.layer-row')) {
      const on = Number(row.dataset.layer) === app.layer;
      row.classList.toggle('selected', on);
      row.querySelector('.layer-btn')?.setAttribute('aria-pressed', String(on));
    }
    renderDetail();
  });
  app.on('names', render);
  render();
}

const NB = '\u00a0';
const header = () =>
  h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Layer'), h('th', { scope: 'col' }, 'Before FFN'), h('th', { scope: 'col', title: 'The dominant FFN sub-updates, by |m|·‖v‖' }, 'Sub-updates'), h('th', { scope: 'col', title: 'Attention heads by the norm of their output, signed by their direct effect on the prediction' }, 'Heads'), h('th', { scope: 'col' }, 'After FFN'), h('th', { scope: 'col', title: 'Rank of the predicted token after this layer' }, 'Rank')));

function skeletonTable(n: number): HTMLElement {
  return h(
    'table',
    { class: 'layer-table skeleton', 'aria-hidden': 'true' },
    h('caption', { class: 'sr-only' }, 'Layers'),
    header(),
    h('tbody', null, Array.from({ length: n }, (_, l) => h('tr', { class: 'layer-row' }, h('th', null, h('span', { class: 'layer-btn ghost' }, String(l))), h('td', null, NB), h('td', null, NB), h('td', null, NB), h('td', null, NB), h('td', null, NB)))),
  );
}

function layerSkeleton(layer: number): HTMLElement {
  const empty = (title: string) => h('div', { class: 'mini-list' }, h('h4', null, title), h('ol', null, Array.from({ length: 10 }, () => h('li', null, NB))));
  return h(
    'div',
    { class: 'layer-full skeleton' },
    h('h3', null, `Layer ${layer}`, h('span', { class: 'muted small' }, ' · trace a prompt to fill it')),
    h('div', { class: 'two' }, empty('Before FFN'), empty('After FFN')),
    h('div', { class: 'scroll-x' }, h('table', { class: 'sub-table' }, h('caption', null, 'Dominant sub-updates (by |m|·‖v‖)'), h('tbody', null, Array.from({ length: 11 }, () => h('tr', null, h('td', null, h('span', { class: 'chip ghost' }, NB))))))),
  );
}

function scoredList(title: string, list: { id: number; text: string; prob?: number; logit: number }[]): HTMLElement {
  return h(
    'div',
    { class: 'mini-list' },
    h('h4', null, title),
    h('ol', null, list.map((t) => h('li', null, tokenEl(t), h('span', { class: 'num' }, t.prob !== undefined ? pct(t.prob) : fmt(t.logit, 2))))),
  );
}

function headsTable(app: App, heads: HeadUpdate[]): HTMLElement {
  const rows = heads.map((hu) =>
    h(
      'tr',
      null,
      h('td', null, headChip(app, hu)),
      h('td', { class: 'num' }, fmt(hu.direct, 3)),
      h('td', null, hu.topTokens ? h('span', { class: 'toklist one-row' }, hu.topTokens.slice(0, 4).map((t) => tokenEl(t))) : ''),
      h('td', null, hu.bottomTokens ? h('span', { class: 'toklist one-row' }, hu.bottomTokens.slice(0, 4).map((t) => tokenEl(t))) : ''),
      h(
        'td',
        { class: 'actions' },
        h('button', { type: 'button', class: 'small', 'aria-label': `Switch ${hu.name} off`, on: { click: () => report(app, app.addIntervention({ layer: hu.layer, head: hu.head, mode: 'off' })) } }, 'Off'),
        h('button', { type: 'button', class: 'small', 'aria-label': `Double ${hu.name}’s output`, on: { click: () => report(app, app.addIntervention({ layer: hu.layer, head: hu.head, mode: 'scale', value: 2 })) } }, '×2'),
      ),
    ),
  );
  return h(
    'div',
    { class: 'scroll-x' },
    h(
      'table',
      { class: 'sub-table heads-table' },
      h('caption', null, 'Attention heads (by ‖result‖, the norm of the head’s output)'),
      h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Head · ‖result‖'), h('th', { scope: 'col', title: 'wte[predicted] · result' }, 'Direct'), h('th', { scope: 'col' }, 'Promotes'), h('th', { scope: 'col' }, 'Suppresses'), h('th', { scope: 'col' }, 'Intervene'))),
      h('tbody', null, rows),
    ),
  );
}

function layerDetail(app: App, l: LayerTrace): HTMLElement {
  const rows = l.subUpdates.map((su) =>
    h(
      'tr',
      null,
      h('td', null, subUpdateChip(app, su)),
      h('td', { class: 'num' }, fmt(su.coef, 3)),
      h('td', { class: 'num' }, fmt(su.direct, 3)),
      h('td', null, su.topTokens ? h('span', { class: 'toklist one-row' }, su.topTokens.slice(0, 6).map((t) => tokenEl(t))) : ''),
      h(
        'td',
        { class: 'actions' },
        h('button', { type: 'button', class: 'small', 'aria-label': `Switch ${su.name} off`, on: { click: () => report(app, app.addIntervention({ layer: su.layer, index: su.index, mode: 'off' })) } }, 'Off'),
        h('button', { type: 'button', class: 'small', 'aria-label': `Switch ${su.name} on`, on: { click: () => report(app, app.addIntervention({ layer: su.layer, index: su.index, mode: 'on' })) } }, 'On'),
      ),
    ),
  );
  return h(
    'div',
    { class: 'layer-full', 'aria-label': `Layer ${l.layer} in full` },
    h('h3', null, `Layer ${l.layer}`, h('span', { class: 'muted small' }, ` · predicted token at rank ${l.predictedRank.before + 1} → ${l.predictedRank.after + 1}, p ${pct(l.predictedProb.before)} → ${pct(l.predictedProb.after)} · S* = ${fmt(l.maxScore, 3)}`)),
    h('div', { class: 'two' }, scoredList('Before FFN', l.before), scoredList('After FFN', l.after)),
    h(
      'div',
      { class: 'scroll-x' },
      h(
        'table',
        { class: 'sub-table' },
        h('caption', null, 'Dominant sub-updates (by |m|·‖v‖)'),
        h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Sub-update · score'), h('th', { scope: 'col' }, 'm'), h('th', { scope: 'col', title: 'm · (wte[predicted] · v)' }, 'Direct'), h('th', { scope: 'col' }, 'Value vector promotes'), h('th', { scope: 'col' }, 'Intervene'))),
        h('tbody', null, rows),
      ),
    ),
    l.heads?.length ? headsTable(app, l.heads) : null,
  );
}
