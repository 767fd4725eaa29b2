// Keyword search over value vectors (which sub-updates promote these words?), as you type. Each hit opens
// its details.
import type { SearchResult } from 'lmdbg';
import type { App } from '../app';
import { $, fmt, h, replace, shortText, tokenEl } from '../dom';

export function searchView(app: App): void {
  const el = $('#search', app.root);
  const input = h('input', { id: 'search-q', type: 'search', placeholder: 'e.g. river, water', maxlength: '200', autocomplete: 'off', spellcheck: 'false' });
  const ranking = h(
    'select',
    { id: 'search-ranking', 'aria-label': 'Ranking' },
    h('option', { value: 'zscore' }, 'by z-score'),
    h('option', { value: 'lmdebugger' }, 'by keywords in the top 50 (LM-Debugger)'),
  );
  const status = h('p', { class: 'small muted', 'aria-live': 'polite' });
  const notes = h('ul', { class: 'search-notes small' });
  const results = h('ol', { class: 'search-results', 'aria-label': 'Search results' });
  const form = h('form', { class: 'row', role: 'search' }, h('label', { for: 'search-q' }, 'Keywords '), input, ranking, h('button', { type: 'submit' }, 'Search'));
  replace(el, form, status, notes, results);

  let seq = 0;
  let prepared = false;
  let timer: number | undefined;

  const run = async () => {
    const dbg = app.dbg;
    const words = input.value.split(/[,\s]+/).map((w) => w.trim()).filter(Boolean).slice(0, 8);
    const my = ++seq;
    if (!dbg || !words.length) {
      replace(results);
      replace(notes);
      status.textContent = dbg ? '' : 'Load a model to search.';
      return;
    }
    let task = null;
    const rank = ranking.value as 'zscore' | 'lmdebugger';
    if (!prepared || rank === 'lmdebugger') {
      task = app.busy.start(rank === 'lmdebugger' ? 'Projecting every value vector (once per model)' : 'Preparing the search index (once per model)', () => {
        if (my === seq) seq++;
      });
    }
    let r: SearchResult;
    try {
      r = await dbg.search(words, { limit: 20, topK: 6, ranking: rank });
      prepared = true;
    } catch (e) {
      if (my === seq) status.textContent = (e as Error).message;
      return;
    } finally {
      task?.end();
    }
    if (my !== seq || dbg !== app.dbg) return;
    // Value vectors are weights: no run (clean or with interventions) changes them.
    const weak = r.hits.filter((x) => x.weak).length;
    status.textContent = `${r.hits.length} value vector${r.hits.length === 1 ? '' : 's'} promoting ${r.keywords.map((k) => JSON.stringify(k.keyword)).join(', ')}${r.ranking === 'lmdebugger' ? ' among their top 50 tokens' : ''}${weak ? `; ${weak} weak (every keyword below z ${r.weakZ}: not among the vector's top tokens)` : ''} (weights: the same in every run)`;
    // Case and leading space are matched; a keyword of several tokens is matched by its first token.
    replace(
      notes,
      r.keywords.filter((k) => k.multiToken).map((k) =>
        h('li', { class: 'multi' }, `${JSON.stringify(k.keyword)} is several tokens (`, (k.pieces ?? []).map((t) => tokenEl(t)), '): matched by the first token of each spelling.'),
      ),
    );
    replace(
      results,
      r.hits.map((hit) => {
        const label = app.names.get(hit.name);
        const open = () => app.openDetail(hit.layer, hit.index);
        // The name is the button; a click anywhere on the row opens it too. Tokens stay outside the
        // button, so that a long one can take the focus itself.
        return h(
          'li',
          { class: ['hit', hit.weak && 'weak'], 'data-name': hit.name, on: { click: (e: MouseEvent) => !(e.target as HTMLElement).closest('button') && open() } },
          h('button', { type: 'button', class: 'link hit-name', title: label ? `${hit.name} “${label}”` : `Open ${hit.name}`, on: { click: open } }, hit.name, label ? h('span', { class: 'muted' }, ` ${shortText(label, 24).shown}`) : null),
          r.ranking === 'lmdebugger'
            ? h('span', { class: 'num', title: `keywords with a token among the vector's top 50; z sum ${fmt(hit.zSum, 2)}` }, `${hit.score}/${r.keywords.length} in top 50`)
            : h('span', { class: 'num' }, `z ${fmt(hit.score, 2)}`),
          hit.weak ? h('span', { class: 'badge weak', title: `every keyword's z is below ${r.weakZ}: a weak match, not among the vector's top tokens` }, 'weak') : null,
          h(
            'span',
            { class: 'toklist' },
            // The keyword tokens it promotes (with their z-scores), then its top tokens.
            hit.matched.map((m) => tokenEl(m, { class: ['match', m.weak && 'weak'], title: `${JSON.stringify(m.text)} (id ${m.id}) for ${JSON.stringify(m.keyword)}: z = ${fmt(m.z, 2)}${m.weak ? ' (weak)' : ''}${m.inTop50 !== undefined ? (m.inTop50 ? ', in the top 50' : ', not in the top 50') : ''}` })),
            (hit.topTokens ?? []).filter((t) => !hit.matched.some((m) => m.id === t.id)).map((t) => tokenEl(t)),
          ),
        );
      }),
    );
  };

  input.addEventListener('input', () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(() => void run(), 250);
  });
  ranking.addEventListener('change', () => void run());
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    window.clearTimeout(timer);
    void run();
  });
  app.on('model', () => {
    prepared = false;
    replace(results);
    status.textContent = '';
    if (input.value.trim()) void run();
  });
  app.on('names', () => {
    if (results.childElementCount) void run();
  });
}
