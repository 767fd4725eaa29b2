// The compact live figure, for a blog post or course notes: the page's ?embed=1 (an iframe) and the
// <lm-debugger> element (a shadow root) are this one figure. The prompt, the prediction (clean beside
// intervened) with the predicted token's rank, the logit lens, the layers, attention, the clean run
// against the intervened one, and switches for the interventions. Given a saved view it draws that
// with no model; "Make it live" loads the model, and from then on every edit traces again.
import type { ViewName } from 'lmdbg';
import type { App } from '../app';
import { bytes, h, replace, tabs } from '../dom';
import { targetName } from '../state';
import { attentionView } from './attention';
import { compareView } from './compare';
import { layersView } from './layers';
import { lensView, rankView } from './lens';
import { predictionView, promptView } from './prediction';

/** The views of the figure, shared by the full page, its embed and <lm-debugger>. */
export function sharedViews(app: App): void {
  promptView(app);
  predictionView(app);
  rankView(app);
  lensView(app);
  layersView(app);
  attentionView(app);
  compareView(app);
}

/** The figure's tabs: each view's tab (prediction and rank share one). */
const TABS: { tab: string; label: string; views: ViewName[] }[] = [
  { tab: 'pred', label: 'Prediction', views: ['prediction', 'rank'] },
  { tab: 'lens', label: 'Logit lens', views: ['lens'] },
  { tab: 'layers', label: 'Layers', views: ['layers'] },
  { tab: 'attn', label: 'Attention', views: ['attention'] },
  { tab: 'compare', label: 'Clean vs intervened', views: ['compare'] },
];
const VIEW_OF_TAB: Record<string, ViewName> = { pred: 'prediction', lens: 'lens', layers: 'layers', attn: 'attention', compare: 'compare' };

/**
 * Builds the figure's DOM (the element ids the shared views render into). `own`: the figure has no page
 * around it (a shadow root), so it brings its own message area and live region.
 */
export function embedShell(root: HTMLElement, own = false): void {
  replace(
    root,
    h(
      'div',
      { class: 'embed' },
      h(
        'div',
        { class: 'e-head' },
        h('strong', null, 'lmdbg'),
        h('span', { id: 'embed-model', class: 'muted small' }),
        h('span', { id: 'embed-live', class: 'e-live' }),
        h('a', { id: 'embed-open', target: '_blank', rel: 'noopener', class: 'small' }, 'Open in lmdbg ↗'),
      ),
      h('p', { id: 'embed-note', class: 'e-note small', hidden: true }),
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
      h(
        'div',
        { class: 'tablist e-tabs', role: 'tablist', 'aria-label': 'Views', id: 'embed-tabs' },
        TABS.map((t) => h('button', { role: 'tab', type: 'button', id: `etab-${t.tab}`, 'data-tab': t.tab, 'aria-controls': `epanel-${t.tab}` }, t.label)),
      ),
      h(
        'div',
        { role: 'tabpanel', id: 'epanel-pred', 'aria-labelledby': 'etab-pred', class: 'e-panel' },
        h('div', { class: 'e-body' }, h('div', { id: 'prediction', class: 'prediction' }), h('div', { id: 'panel-rank', class: 'e-rank' })),
      ),
      h('div', { role: 'tabpanel', id: 'epanel-lens', 'aria-labelledby': 'etab-lens', class: 'e-panel', hidden: true }, h('div', { id: 'panel-lens' })),
      h(
        'div',
        { role: 'tabpanel', id: 'epanel-layers', 'aria-labelledby': 'etab-layers', class: 'e-panel', hidden: true },
        h('div', { id: 'layers', class: 'layers' }),
        h('div', { id: 'layer-detail', class: 'layer-detail' }),
      ),
      h('div', { role: 'tabpanel', id: 'epanel-attn', 'aria-labelledby': 'etab-attn', class: 'e-panel', hidden: true }, h('div', { id: 'panel-attn' })),
      h('div', { role: 'tabpanel', id: 'epanel-compare', 'aria-labelledby': 'etab-compare', class: 'e-panel', hidden: true }, h('div', { id: 'panel-compare' })),
      h('div', { id: 'embed-ivs', class: 'e-ivs' }),
      own ? [h('div', { id: 'toast', class: 'toast', role: 'alert', hidden: true }), h('div', { id: 'live', class: 'sr-only', 'aria-live': 'polite' })] : null,
    ),
  );
}

export function embedView(app: App): void {
  const root = app.root;
  const open = root.getElementById('embed-open') as HTMLAnchorElement;
  const modelEl = root.getElementById('embed-model')!;
  const liveEl = root.getElementById('embed-live')!;
  const note = root.getElementById('embed-note')!;
  const ivs = root.getElementById('embed-ivs')!;
  const prompt = root.getElementById('prompt') as HTMLTextAreaElement;
  const traceBtn = root.getElementById('trace-btn') as HTMLButtonElement;
  const tabList = root.getElementById('embed-tabs')!;
  const select = tabs(tabList, (tab) => app.setView(VIEW_OF_TAB[tab] ?? 'prediction'));
  const tabOf = (v: ViewName) => TABS.find((t) => t.views.includes(v))?.tab ?? 'pred';
  select(tabOf(app.view));
  app.on('view', () => {
    if (tabList.querySelector('[aria-selected=true]')?.getAttribute('data-tab') !== tabOf(app.view)) select(tabOf(app.view));
  });

  const renderHead = () => {
    if (app.host.pageUrl) open.href = app.shareUrl(false);
    open.hidden = !app.host.pageUrl;
    modelEl.textContent = app.dbg || app.snapshot ? ` · ${app.modelLabel}` : '';
    const frozen = app.frozen;
    prompt.readOnly = frozen;
    traceBtn.hidden = frozen;
    if (frozen) {
      const size = app.snapshot!.model.checkpointBytes;
      const where = app.liveEntry();
      replace(
        liveEl,
        h('span', { class: 'run-label saved', title: `Computed by lmdbg ${app.snapshot!.lmdbg}; weights ${app.snapshot!.model.fingerprint}` }, 'saved view'),
        ' ',
        h(
          'button',
          {
            type: 'button',
            class: 'primary small',
            id: 'make-live',
            props: { disabled: !where },
            title: where ? `Downloads the model (${bytes(size)}) and runs it in this tab; then every change traces again` : 'This saved view does not say where its model is',
            on: {
              click: (e: MouseEvent) => {
                (e.currentTarget as HTMLButtonElement).disabled = true;  // until the load ends (it re-renders)
                void app.makeLive();
              },
            },
          },
          `Make it live · ${bytes(size)}`,
        ),
      );
    } else replace(liveEl);
    const msg = app.snapshotError || app.liveNote;
    note.textContent = msg;
    note.hidden = !msg;
    note.className = ['e-note', 'small', app.snapshotError ? 'field-error' : 'notice'].join(' ');
    note.setAttribute('role', app.snapshotError ? 'alert' : 'status');
  };

  const renderIvs = () => {
    if (!app.interventions.length) return replace(ivs);
    const frozen = app.frozen;
    replace(
      ivs,
      h('span', { class: 'small muted' }, 'Interventions: '),
      app.interventions.map((iv, i) => {
        const name = targetName(iv);
        const label = iv.head === undefined ? app.names.get(name) : undefined;
        const cb = h('input', { type: 'checkbox', id: `e-iv-${i}`, props: { checked: iv.active, disabled: frozen } });
        cb.addEventListener('change', () => app.updateIntervention(i, { active: cb.checked }));
        return h(
          'label',
          { class: 'e-iv', for: `e-iv-${i}`, title: frozen ? 'Make it live to switch it' : null },
          cb,
          ` ${name} ${iv.mode}${iv.value !== undefined ? `=${iv.value}` : ''}${label ? ` (${label})` : ''}`,
        );
      }),
    );
  };
  const render = () => {
    renderHead();
    renderIvs();
  };
  for (const ev of ['model', 'interventions', 'prompt', 'names', 'snapshot', 'pending', 'storage'] as const) app.on(ev, render);
  render();
}
