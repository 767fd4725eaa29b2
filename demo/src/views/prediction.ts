// Prompt box, the prompt's tokens, and the final top-k (clean beside intervened when interventions are on).
import type { ScoredToken } from 'lmdbg';
import type { App } from '../app';
import { TRACE_TOPK } from '../app';
import { $, changeLabel, h, pct, replace, runLabel, tokenEl } from '../dom';

export function promptView(app: App): void {
  const form = $('#prompt-form', app.root) as HTMLFormElement;
  const ta = $('#prompt', app.root) as HTMLTextAreaElement;
  const tokens = $('#tokens', app.root);
  const count = $('#token-count', app.root);
  ta.value = app.prompt;
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    app.setPrompt(ta.value);
    void app.runTrace();
  });
  ta.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      form.requestSubmit();
    }
  });
  ta.addEventListener('input', () => app.setPrompt(ta.value));
  app.on('prompt', () => {
    if (ta.value !== app.prompt) ta.value = app.prompt;
  });
  const renderTokens = () => {
    const t = app.trace;
    if (!t) {
      replace(tokens);
      count.textContent = '';
      return;
    }
    replace(tokens, t.tokens.map((tok, i) => tokenEl(tok, { 'data-pos': i })));
    count.textContent = `${t.tokens.length} token${t.tokens.length === 1 ? '' : 's'}.`;
  };
  app.on('trace', renderTokens);
  app.on('model', renderTokens);
}

function list(items: ScoredToken[], other: ScoredToken[] | null, label: string, heading: HTMLElement): HTMLElement {
  const max = Math.max(1e-9, ...items.map((t) => t.prob ?? 0));
  const rows = [];
  for (let i = 0; i < TRACE_TOPK; i++) {
    const t = items[i];
    if (!t) {
      rows.push(h('li', { class: 'empty' }, '\u00a0'));
      continue;
    }
    const otherRank = other ? other.findIndex((o) => o.id === t.id) : i;
    // Moved within the top-k: marked; not in the other list at all: highlighted.
    const changed = other !== null && otherRank !== i;
    const fresh = other !== null && otherRank < 0;
    const p = t.prob ?? 0;
    rows.push(
      h(
        'li',
        { class: ['pred-row', changed && 'changed', fresh && 'new', i === 0 && 'first'], 'data-id': t.id },
        h('span', { class: 'rank' }, String(i + 1)),
        tokenEl(t),
        h('span', { class: 'bar', 'aria-hidden': 'true' }, h('span', { style: { width: `${(100 * p) / max}%` } })),
        h('span', { class: 'num' }, pct(p)),
        changed ? h('span', { class: 'sr-only' }, fresh ? ' (not in the other list)' : ` (rank ${otherRank + 1} in the other list)`) : null,
      ),
    );
  }
  return h('div', { class: 'pred-col' }, h('h3', null, heading), h('ol', { class: 'pred-list', 'aria-label': label }, rows));
}

export function predictionView(app: App): void {
  const el = $('#prediction', app.root);
  const render = () => {
    const t = app.trace;
    if (!t) {
      replace(
        el,
        h('p', { class: 'pred-head muted' }, app.dbg ? 'Trace a prompt to see what the model predicts and how each layer builds it.' : 'Load a model, then trace a prompt.'),
      );
      return;
    }
    const pos = t.positions[t.positions.length - 1];
    const last = t.tokens[t.tokens.length - 1];
    const head = h('p', { class: 'pred-head' }, 'Next token after ', tokenEl(last), ': ', h('strong', { class: 'pred-top' }, tokenEl(pos.predicted)));
    if (!pos.clean) {
      replace(el, head, h('p', { class: 'banner none' }, 'No interventions: the clean model.'), h('div', { class: 'pred-cols' }, list(pos.prediction, null, 'Top tokens, clean run', h('span', null, 'Top tokens ', runLabel(t)))));
      return;
    }
    const changed = pos.clean.changed;
    const by = changeLabel(t);
    const By = by[0].toUpperCase() + by.slice(1);
    const banner = h(
      'p',
      { class: ['banner', changed ? 'changed' : 'same'], 'data-changed': String(changed) },
      changed
        ? [`${By} changed the prediction: `, tokenEl(pos.clean.predicted), ' → ', tokenEl(pos.predicted)]
        : [`${By} did not change the top prediction (`, tokenEl(pos.predicted), '); changed ranks are highlighted.'],
    );
    replace(
      el,
      head,
      banner,
      h(
        'div',
        { class: 'pred-cols' },
        list(pos.clean.prediction, pos.prediction, 'Clean run', h('span', { class: 'run-label clean' }, 'Clean run')),
        list(pos.prediction, pos.clean.prediction, `Run with ${by}`, runLabel(t)),
      ),
    );
  };
  app.on('trace', render);
  app.on('model', render);
  render();
}

