// "Why this token": the final logit of a chosen token (or its difference with another one) split into
// additive parts (dbg.attribute: embeddings, each head, each FFN sub-update, the biases), drawn as a
// waterfall in forward order. The token is typed, or picked from any token chip of the page (tokmenu.ts).
// The page's view only: a saved view does not keep an attribution.
import type { Attribution, AttributionComponent, Token } from 'lmdbg';
import type { App } from '../app';
import { $, fieldError, fmt, h, replace, runLabel, tokenEl } from '../dom';
import { addTokenAction } from '../tokmenu';

/** Parts drawn one by one (the largest |value|); the rest share one bar. */
const ROWS = 12;

const signed = (x: number) => `${x < 0 ? '−' : '+'}${fmt(Math.abs(x), 2)}`;

/** A typed token: an id ("464") or its text, as typed (a leading space matters: " Paris"). */
const tokenArg = (text: string): number | string => (/^\s*\d+\s*$/.test(text) ? Number(text) : text);

const KIND_TITLE: Record<AttributionComponent['kind'], string> = {
  embed: 'the token embedding',
  pos_embed: 'the position embedding',
  head: 'this attention head’s output (hook_result)',
  attn_bias: 'the attention output bias of this layer',
  neuron: 'this FFN sub-update m·v',
  neurons: 'the other FFN sub-updates of this layer, summed',
  mlp_bias: 'the FFN output bias of this layer',
  ln_final_bias: 'ln_f’s bias',
};

function label(app: App, c: AttributionComponent): HTMLElement {
  const title = `${c.name}: ${KIND_TITLE[c.kind]}${c.count ? ` (${c.count})` : ''}, ${signed(c.value)}`;
  if (c.kind === 'head' || c.kind === 'neuron') {
    const go = c.kind === 'head' ? () => app.selectLayer(c.layer!) : () => app.openDetail(c.layer!, c.index!);
    const what = c.kind === 'head' ? `Show layer ${c.layer}` : 'Open its details';
    return h('button', { type: 'button', class: 'link wf-name', title: `${title}. ${what}`, on: { click: go } }, c.name);
  }
  return h('span', { class: 'wf-name', title }, c.kind === 'neurons' ? `${c.name} (${c.count})` : c.name);
}

/** Bars from the running total to the running total plus each part, then the logit itself. */
export function waterfall(app: App, a: Attribution, rows: number): HTMLElement {
  const cs = a.components;
  const byMagnitude = cs.map((_, i) => i).sort((i, j) => Math.abs(cs[j].value) - Math.abs(cs[i].value));
  const shown = new Set(byMagnitude.slice(0, rows));
  const items: { el: HTMLElement; from: number; to: number; total?: boolean }[] = [];
  let run = 0;
  let rest = 0;
  let nRest = 0;
  for (let i = 0; i < cs.length; i++) {
    if (!shown.has(i)) {
      rest += cs[i].value;
      nRest++;
      continue;
    }
    items.push({ el: label(app, cs[i]), from: run, to: run + cs[i].value });
    run += cs[i].value;
  }
  if (nRest) {
    items.push({ el: h('span', { class: 'wf-name muted', title: `${nRest} smaller parts, summed` }, `${nRest} smaller parts`), from: run, to: run + rest });
    run += rest;
  }
  items.push({ el: h('strong', { class: 'wf-name' }, a.distractor ? 'difference' : 'logit'), from: 0, to: a.logit, total: true });
  const ends = items.flatMap((it) => [it.from, it.to]);
  const lo = Math.min(0, ...ends);
  const span = Math.max(1e-9, Math.max(0, ...ends) - lo);
  const x = (v: number) => `${((100 * (v - lo)) / span).toFixed(3)}%`;
  return h(
    'ol',
    { class: 'waterfall', 'aria-label': `Parts of the ${a.distractor ? 'logit difference' : 'logit'}, in forward order` },
    items.map((it) => {
      const v = it.to - it.from;
      return h(
        'li',
        { class: ['wf-row', it.total && 'total'] },
        it.el,
        h(
          'span',
          { class: 'wf-track', 'aria-hidden': 'true' },
          h('span', { class: 'wf-zero', style: { left: x(0) } }),
          h('span', { class: ['wf-bar', v >= 0 ? 'pos' : 'neg', it.total && 'total'], style: { left: x(Math.min(it.from, it.to)), width: x(lo + Math.abs(v)) } }),
        ),
        h('span', { class: 'num' }, it.total ? fmt(it.to, 2) : signed(v)),
      );
    }),
  );
}

function summary(a: Attribution): HTMLElement {
  return h(
    'p',
    { class: 'wf-head small' },
    'logit(',
    tokenEl(a.target),
    ')',
    a.distractor ? [' − logit(', tokenEl(a.distractor), ')'] : null,
    ' = ',
    h('strong', null, fmt(a.logit, 3)),
    ' after ',
    tokenEl(a.token),
    ` (position ${a.position}), ln_f scale σ = ${fmt(a.scale, 3)} frozen`,
  );
}

export function attributionView(app: App): void {
  const el = $('#panel-attr', app.root);
  const target = h('input', { id: 'attr-target', type: 'text', placeholder: '“ Paris” or an id', autocomplete: 'off', spellcheck: 'false', 'aria-describedby': 'attr-help' });
  const distractor = h('input', { id: 'attr-distractor', type: 'text', placeholder: 'optional', autocomplete: 'off', spellcheck: 'false' });
  const error = fieldError(target, 'attr-error');
  const clear = h('button', { type: 'button', class: 'small', on: { click: () => app.clearAttribution() } }, 'Clear');
  const form = h(
    'form',
    { class: 'row attr-form', novalidate: true },
    h('label', { for: 'attr-target' }, 'Explain'),
    target,
    h('label', { for: 'attr-distractor' }, 'against'),
    distractor,
    h('button', { type: 'submit' }, 'Explain'),
    clear,
  );
  const help = h(
    'p',
    { id: 'attr-help', class: 'small muted' },
    'Type a token with its leading space (“ Paris”) or its id, or click any token on the page and choose Explain. The logit is split into the parts of the residual stream that add up to it, ln_f’s scale frozen: embeddings, each head (L3H5), each FFN sub-update (L3D120; the largest listed), the biases.',
  );
  const out = h('div', { class: 'attr-out' });
  replace(el, form, error.el, help, out);

  const explain = async (t: number | string, d: number | string | null) => {
    const why = await app.explain(t, d);
    error.show(why && why.replace(/^lmdbg: /, ''));
    if (why) target.focus();
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const t = target.value;
    if (t === '') return error.show('Type a token to explain, or click one on the page.');
    const d = distractor.value;
    // A field still showing the explained token keeps its id: its text need not tokenize back to it
    // (<|endoftext|>, a byte fragment).
    const a = app.attribution;
    const arg = (text: string, tok: Token | null | undefined) => (tok && text === tok.text ? tok.id : tokenArg(text));
    void explain(arg(t, a?.target), d === '' ? null : arg(d, a?.distractor));
  });
  const show = () => {
    $('#tab-attr', app.root).click();
    el.scrollIntoView({ block: 'nearest' });
  };
  addTokenAction({ label: (t) => `Explain “${t.text}”`, run: (t) => (show(), void explain(t.id, null)) });
  addTokenAction({
    label: (t) => `Explain the target against “${t.text}”`,
    when: (t) => app.attrTarget !== null && app.attrTarget !== t.id,
    run: (t) => (show(), void explain(app.attrTarget!, t.id)),
  });

  const render = () => {
    const a = app.attribution;
    clear.hidden = app.attrTarget === null;
    if (a) {
      if (document.activeElement !== target) target.value = a.target.text;
      if (document.activeElement !== distractor) distractor.value = a.distractor?.text ?? '';
    }
    if (!a) {
      replace(out, h('p', { class: 'muted small placeholder' }, app.dbg ? 'No token chosen yet.' : 'Load a model first.'));
      return;
    }
    replace(out, h('p', { class: 'view-run small' }, runLabel({ interventions: app.attributionWith })), summary(a), waterfall(app, a, ROWS));
  };
  app.on('attribution', render);
  app.on('model', render);
  render();
}
