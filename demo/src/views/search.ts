// Keyword search over value vectors (which sub-updates promote these words?), as you type. Each hit opens
// its details.
import type { SearchResult } from 'lmdbg';
import type { App } from '../app';
import { $, fmt, h, replace, shortText, tokenEl } from '../dom';

export function searchView(app: App): void {
  const el = $('#search', app.root);
  const input = h('input', { id: 'search-q', type: 'search', placeholder: 'e.g. river, water', maxlength: '200', autocomplete: 'off', spellcheck: 'false' });
  const status = h('p', { class: 'small muted', 'aria-live': 'polite' });
  const results = h('ol', { class: 'search-results', 'aria-label': 'Search results' });
  const form = h('form', { class: 'row', role: 'search' }, h('label', { for: 'search-q' }, 'Keywords '), input, h('button', { type: 'submit' }, 'Search'));
  replace(el, form, status, results);

  let seq = 0;
  let prepared = false;
  let timer: number | undefined;

  const run = async () => {
    const dbg = app.dbg;
    const words = input.value.split(/[,\s]+/).map((w) => w.trim()).filter(Boolean).slice(0, 8);
    const my = ++seq;
    if (!dbg || !words.length) {
      replace(results);
      status.textContent = dbg ? '' : 'Load a model to search.';
      return;
    }
    let task = null;
    if (!prepared) {
      task = app.busy.start('Preparing the search index (once per model)', () => {
        if (my === seq) seq++;
      });
    }
    let r: SearchResult;
    try {
      r = await dbg.search(words, { limit: 20, topK: 6 });
      prepared = true;
    } catch (e) {
      if (my === seq) status.textContent = (e as Error).message;
      return;
    } finally {
      task?.end();
    }
    if (my !== seq || dbg !== app.dbg) return;
    // Value vectors are weights: no run (clean or with interventions) changes them.
    status.textContent = `${r.hits.length} value vector${r.hits.length === 1 ? '' : 's'} promoting ${r.keywords.map((k) => JSON.stringify(k.keyword)).join(', ')} (weights: the same in every run)`;
    replace(
      results,
      r.hits.map((hit) => {
        const label = app.names.get(hit.name);
        const open = () => app.openDetail(hit.layer, hit.index);
        // The name is the button; a click anywhere on the row opens it too. Tokens stay outside the
        // button, so that a long one can take the focus itself.
        return h(
          'li',
          { class: 'hit', 'data-name': hit.name, on: { click: (e: MouseEvent) => !(e.target as HTMLElement).closest('button') && open() } },
          h('button', { type: 'button', class: 'link hit-name', title: label ? `${hit.name} “${label}”` : `Open ${hit.name}`, on: { click: open } }, hit.name, label ? h('span', { class: 'muted' }, ` ${shortText(label, 24).shown}`) : null),
          h('span', { class: 'num' }, `z ${fmt(hit.score, 2)}`),
          h(
            'span',
            { class: 'toklist' },
            // The keyword tokens it promotes (with their z-scores), then its top tokens.
            hit.matched.map((m) => tokenEl(m, { class: 'match', title: `${JSON.stringify(m.text)} (id ${m.id}) for ${JSON.stringify(m.keyword)}: z = ${fmt(m.z, 2)}` })),
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
