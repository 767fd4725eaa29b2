// The logit lens over layers × positions (a trace with positions 'all'), and the predicted token's rank and
// probability through the layers (before and after each FFN).
import type { PositionTrace } from 'lmdbg';
import type { App } from '../app';
import { $, fieldError, fmt, fullTextAttrs, h, pct, redrawOnResize, replace, runLabel, shortText, tokenEl, tokenLabel } from '../dom';
import { rankChart, TRACK_CLASSES } from '../charts';

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
