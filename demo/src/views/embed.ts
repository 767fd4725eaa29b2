// ?embed=1: a compact live figure for a blog post: prompt, prediction (clean beside intervened), the
// predicted token's rank through the layers, and switches for the link's interventions.
import type { App } from '../app';
import { h, replace } from '../dom';

/** Builds the embed's DOM (the same element ids the shared views render into). */
export function embedShell(root: HTMLElement): void {
  replace(
    root,
    h(
      'div',
      { class: 'embed' },
      h('div', { class: 'e-head' }, h('strong', null, 'lmdbg'), h('span', { id: 'embed-model', class: 'muted small' }), h('a', { id: 'embed-open', target: '_blank', rel: 'noopener', class: 'small' }, 'Open in lmdbg ↗')),
      h(
        'form',
        { id: 'prompt-form', class: 'row e-prompt' },
        h('label', { for: 'prompt', class: 'sr-only' }, 'Prompt'),
        h('textarea', { id: 'prompt', rows: '1', maxlength: '2000', spellcheck: 'false' }),
        h('button', { id: 'trace-btn', type: 'submit', class: 'primary' }, 'Trace'),
        h('span', { id: 'token-count', class: 'sr-only' }),
      ),
      h('div', { id: 'tokens', class: 'tokens sr-only' }),
      h(
        'div',
        { id: 'busy', class: 'busy', role: 'status', 'aria-live': 'polite' },
        h('span', { class: 'spinner', 'aria-hidden': 'true' }),
        h('span', { class: 'busy-label' }),
        h('progress', { max: '1', 'aria-label': 'Progress' }),
        h('span', { class: 'busy-detail' }),
        h('button', { type: 'button' }, 'Cancel'),
      ),
      h('section', { id: 'welcome', class: 'welcome', hidden: true }, h('div', { id: 'welcome-body' })),
      h('div', { class: 'e-body' }, h('div', { id: 'prediction', class: 'prediction' }), h('div', { id: 'panel-rank', class: 'e-rank' })),
      h('div', { id: 'embed-ivs', class: 'e-ivs' }),
    ),
  );
}

export function embedView(app: App): void {
  const open = document.getElementById('embed-open') as HTMLAnchorElement;
  const modelEl = document.getElementById('embed-model')!;
  const ivs = document.getElementById('embed-ivs')!;
  const render = () => {
    open.href = app.shareUrl(false);
    modelEl.textContent = app.dbg ? ` · ${app.modelLabel}` : '';
    if (!app.interventions.length) return replace(ivs);
    replace(
      ivs,
      h('span', { class: 'small muted' }, 'Interventions: '),
      app.interventions.map((iv, i) => {
        const name = `L${iv.layer}D${iv.index}`;
        const label = app.names.get(name);
        const cb = h('input', { type: 'checkbox', id: `e-iv-${i}`, props: { checked: iv.active } });
        cb.addEventListener('change', () => app.updateIntervention(i, { active: cb.checked }));
        return h('label', { class: 'e-iv', for: `e-iv-${i}` }, cb, ` ${name} ${iv.mode}${iv.value !== undefined ? `=${iv.value}` : ''}${label ? ` (${label})` : ''}`);
      }),
    );
  };
  for (const ev of ['model', 'interventions', 'prompt', 'names'] as const) app.on(ev, render);
  render();
}
