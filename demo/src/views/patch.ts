// Activation patching between two prompts: the prompt above is the target; another prompt (the source)
// lends it the activation of one hook, at one layer and one position at a time. The sweep is drawn as a
// heatmap (layers × target positions); a cell opens the trace of the target with that patch in every view.
import type { PatchHook, PatchMetric, PatchSweep } from 'lmdbg';
import type { App } from '../app';
import { $, fieldError, fmt, h, replace, tokenEl } from '../dom';

const HOOKS: [PatchHook, string][] = [
  ['resid_pre', 'resid_pre (the residual entering the layer)'],
  ['attn_out', 'attn_out (the attention output)'],
  ['resid_mid', 'resid_mid (between attention and FFN)'],
  ['mlp_out', 'mlp_out (the FFN output)'],
  ['resid_post', 'resid_post (the residual leaving the layer)'],
  ['result', 'result (one attention head’s output)'],
];
/** How a patched hook reads in a sentence ("resid_mid", "head 5’s result"). */
const hookLabel = (hook: PatchHook, head?: number) => (hook === 'result' ? `head ${head}’s result` : hook);
const METRICS: [PatchMetric['type'], string][] = [
  ['logitDiff', 'logit difference token − distractor'],
  ['logit', 'logit of the token'],
  ['prob', 'probability of the token'],
];

export function patchView(app: App): void {
  const panel = $('#panel-patch');
  const source = h('input', { id: 'patch-source', type: 'text', maxlength: '2000', autocomplete: 'off', spellcheck: 'false', placeholder: 'e.g. The capital of Italy is' });
  const hook = h('select', { id: 'patch-hook' }, HOOKS.map(([v, label]) => h('option', { value: v }, label)));
  const head = h('select', { id: 'patch-head' });
  const headRow = h('label', { class: 'field', hidden: true }, 'Head ', head);
  const fillHeads = () => {
    const n = app.config?.nHeads ?? 0;
    if (head.options.length !== n) replace(head, Array.from({ length: n }, (_, i) => h('option', { value: String(i) }, String(i))));
  };
  hook.addEventListener('change', () => {
    fillHeads();
    headRow.hidden = hook.value !== 'result';
  });
  const metric = h('select', { id: 'patch-metric' }, METRICS.map(([v, label]) => h('option', { value: v }, label)));
  const token = h('input', { id: 'patch-token', type: 'text', maxlength: '60', autocomplete: 'off', spellcheck: 'false', placeholder: 'the source’s prediction' });
  const distractor = h('input', { id: 'patch-distractor', type: 'text', maxlength: '60', autocomplete: 'off', spellcheck: 'false', placeholder: 'this prompt’s prediction' });
  const go = h('button', { id: 'patch-go', type: 'submit', class: 'primary' }, 'Patch every layer and position');
  const error = fieldError(source, 'patch-error');
  const distRow = h('label', { class: 'field' }, 'Distractor ', distractor);
  const form = h(
    'form',
    { class: 'patch-form' },
    h('label', { class: 'field wide' }, 'Source prompt ', source),
    h('label', { class: 'field' }, 'Hook ', hook),
    headRow,
    h('label', { class: 'field' }, 'Metric ', metric),
    h('label', { class: 'field' }, 'Token ', token),
    distRow,
    go,
  );
  metric.addEventListener('change', () => (distRow.hidden = metric.value !== 'logitDiff'));
  const showing = h('div', { class: 'patch-showing' });
  const result = h('div', { class: 'patch-result' });
  replace(
    panel,
    h('p', { class: 'small muted' }, 'Activation patching: run the prompt above (the target) with the activation of one hook, at one layer and position, taken from the source prompt, and measure the target’s next-token metric. Prompts of different lengths are aligned at their ends: the last positions meet.'),
    form,
    error.el,
    showing,
    result,
  );

  /**
   * One token typed as text (it must be one token), or, when empty, the fallback prompt's prediction
   * (its runner-up when that is `not`).
   */
  const tokenOf = async (text: string, what: string, fallback: string, not = -1): Promise<number> => {
    const dbg = app.dbg!;
    if (!text) return (await dbg.trace(fallback, { topK: 2, subUpdates: 0, valueTopK: 0 })).positions[0].prediction.find((t) => t.id !== not)!.id;
    const ids = await dbg.tokenize(text, { allowSpecial: true });
    if (ids.length !== 1) throw new Error(`The ${what} ${JSON.stringify(text)} is ${ids.length} tokens; give one token (e.g. " Paris", with its leading space).`);
    return ids[0];
  };

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void (async () => {
      if (!app.dbg) return error.show('Load a model first.');
      const src = source.value;
      if (!src.trim()) return error.show('Type a source prompt: the one whose activations are patched into the prompt above.');
      if (!app.prompt.trim()) return error.show('Type a prompt above first: it is the target.');
      try {
        const type = metric.value as PatchMetric['type'];
        const tok = await tokenOf(token.value, 'token', src);
        const m: PatchMetric = type === 'logitDiff' ? { type, token: tok, distractor: await tokenOf(distractor.value, 'distractor', app.prompt, tok) } : { type, token: tok };
        if (m.type === 'logitDiff' && m.distractor === m.token) throw new Error('Token and distractor are the same token: give a distractor (a logit difference needs two tokens).');
        error.show(null);
        const hk = hook.value as PatchHook;
        await app.patchSweep(src, hk, m, hk === 'result' ? Number(head.value) : undefined);
        render();
      } catch (err) {
        error.show((err as Error).message);
      }
    })();
  });

  const render = () => {
    const p = app.patch;
    replace(
      showing,
      p
        ? h('p', { class: 'banner changed' }, `The views show this prompt with ${hookLabel(p.hook, p.head)} of layer ${p.layer} at position ${p.positions} patched in from the source. `, h('button', { type: 'button', class: 'link', id: 'patch-clear', on: { click: () => void app.showPatch(null) } }, 'Show it without the patch'))
        : null,
    );
    const s = app.sweep;
    if (!s) {
      replace(result, h('p', { class: 'muted placeholder' }, 'Give a source prompt and patch: each cell of the heatmap is one layer and one position of this prompt.'));
      return;
    }
    replace(result, heatmap(app, s.source, s.sweep, s.tokens));
    // The last positions (where the prompts meet and the metric is read) in view first.
    const scroller = result.querySelector('.scroll-x');
    if (scroller) scroller.scrollLeft = scroller.scrollWidth;
  };
  app.on('patch', render);
  app.on('model', () => {
    fillHeads();
    render();
  });
  fillHeads();
  render();
}

function metricName(m: PatchMetric): string {
  return m.type === 'logitDiff' ? 'logit difference' : m.type === 'logit' ? 'logit' : 'probability';
}

function heatmap(app: App, source: string, sw: PatchSweep, texts: Map<number, string>): HTMLElement {
  const { clean, corrupt } = sw;
  const m = sw.options.metric;
  const L = sw.metric.length;
  const span = clean - corrupt;
  // Shade: how far a cell moves the target's metric towards the source's (0 = unchanged, 1 = the source's).
  const frac = (v: number) => (Math.abs(span) < 1e-9 ? 0 : Math.max(-1, Math.min(1, (v - corrupt) / span)));
  const head = h('tr', null, h('th', { scope: 'col' }, 'Layer'), sw.target.tokens.map((t, p) => h('th', { scope: 'col', class: 'lens-col' }, tokenEl(t, { 'data-pos': p }))));
  const rows = [];
  for (let l = L - 1; l >= 0; l--) {
    rows.push(
      h(
        'tr',
        null,
        h('th', { scope: 'row' }, String(l)),
        sw.metric[l].map((v, p) => {
          if (v === null) return h('td', { class: 'lens-cell patch-cell none', title: `position ${p} has no source position (the prompts are aligned at their ends)` }, '–');
          const f = frac(v);
          const title = `${hookLabel(sw.options.hook, sw.options.head)} of layer ${l} at position ${p} (${JSON.stringify(sw.target.tokens[p].text)}) from the source: ${metricName(m)} ${fmt(v, 4)} (target ${fmt(corrupt, 4)}, source ${fmt(clean, 4)}). Click to trace it.`;
          const selected = app.patch && app.patch.layer === l && app.patch.positions[0] === p && app.patch.hook === sw.options.hook && app.patch.head === sw.options.head;
          return h(
            'td',
            { class: ['lens-cell', 'patch-cell', f < 0 && 'neg', Math.abs(f) > 0.55 && 'dark', selected && 'final'], style: { '--p': Math.abs(f).toFixed(3) } },
            h('button', { type: 'button', class: 'cell-btn', title, 'data-layer': l, 'data-pos': p, on: { click: () => void app.showPatch({ source, hook: sw.options.hook, layer: l, positions: [p], ...(sw.options.head !== undefined ? { head: sw.options.head } : {}) }) } }, fmt(v, 2)),
          );
        }),
      ),
    );
  }
  const tok = (id: number) => ({ id, text: texts.get(id) ?? `#${id}` });
  return h(
    'div',
    null,
    h(
      'p',
      { class: 'small' },
      `${metricName(m)[0].toUpperCase()}${metricName(m).slice(1)} of `,
      tokenEl(tok(m.token)),
      m.type === 'logitDiff' ? [' − ', tokenEl(tok(m.distractor))] : null,
      `: source ${fmt(clean, 4)}, this prompt ${fmt(corrupt, 4)}. The shade is how far a cell moves it towards the source (red: away).`,
    ),
    sw.offset !== 0 ? h('p', { class: 'small muted' }, sw.offset > 0 ? `The source is ${sw.offset} token${sw.offset === 1 ? '' : 's'} longer: its first ${sw.offset} are never read.` : `The source is ${-sw.offset} token${sw.offset === -1 ? '' : 's'} shorter: this prompt’s first ${-sw.offset} positions have no counterpart (–).`) : null,
    h('div', { class: 'scroll-x' }, h('table', { class: 'lens-table patch-table' }, h('caption', { class: 'sr-only' }, `Patching ${hookLabel(sw.options.hook, sw.options.head)}: metric per layer (rows, last layer first) and position (columns)`), h('thead', null, head), h('tbody', null, rows))),
  );
}
