// Entry point: the full debugger, or (?embed=1) the compact figure (views/embed.ts, also <lm-debugger>).
import './style.css';
import { App } from './app';
import { Busy, toast } from './busy';
import { $, tabs, tooltips } from './dom';
import { simdSupported } from 'lmdbg';
import { parseUrlState } from './state';
import { attributionView } from './views/attribution';
import { detailsView } from './views/details';
import { embedShell, embedView, sharedViews } from './views/embed';
import { figureView } from './views/figure';
import { generateView } from './views/generate';
import { interventionsView } from './views/interventions';
import { modelView, renderWelcome } from './views/model';
import { patchView } from './views/patch';
import { searchView } from './views/search';
import { shareView } from './views/share';

function registerServiceWorker(): void {
  if (!('serviceWorker' in navigator) || !window.isSecureContext) return;
  navigator.serviceWorker.register(new URL('sw.js', document.baseURI), { scope: './' }).catch((e) => console.warn('service worker:', e));
}

/** The page's tab of each view (prediction and layers are always on screen). */
const PAGE_TAB: Record<string, string> = { lens: 'lens', rank: 'rank', attention: 'attn', compare: 'compare' };

async function main(): Promise<void> {
  const warnings: string[] = [];
  const state = parseUrlState(location.search, (w) => warnings.push(w));
  const embed = state.embed;
  if (embed) {
    document.documentElement.classList.add('is-embed');
    $('#app').remove();
    const root = $('#embed-root');
    root.hidden = false;
    embedShell(root);
  } else {
    $('#embed-root').remove();
  }
  for (const w of warnings) toast(w, 'info');
  // A saved view draws without WebAssembly: the check waits until a model is wanted.
  if (!state.snapshot && !simdSupported()) {
    toast('This browser cannot run WebAssembly SIMD, which lmdbg needs. Try a recent Chrome, Edge, Firefox or Safari (16.4+).');
    return;
  }
  tooltips();
  const busy = new Busy($('#busy'));
  const app = new App(busy, state);
  busy.busyTargets = [$('#prediction')];
  (window as unknown as { lmdbgApp: App }).lmdbgApp = app; // for the end-to-end tests and the console

  sharedViews(app);
  if (embed) {
    embedView(app);
    app.on('pending', () => renderWelcome(app));
  } else {
    modelView(app);
    patchView(app);
    attributionView(app);
    interventionsView(app);
    generateView(app);
    detailsView(app);
    searchView(app);
    shareView(app);
    figureView(app);
    const select = tabs($('#view-tabs'), (tab) => {
      const view = Object.keys(PAGE_TAB).find((v) => PAGE_TAB[v] === tab);
      if (view) app.setView(view as typeof app.view);
    });
    const show = () => select(PAGE_TAB[app.view] ?? 'lens');
    app.on('view', show);
    show();
  }
  await app.start();
  // An embed or a saved view never installs the service worker: it would fetch the whole site and the
  // bundled model into the cache of a reader who only looks at a figure.
  if (!embed && !state.snapshot) registerServiceWorker();
}

main().catch((e) => {
  console.error(e);
  toast(`lmdbg could not start: ${(e as Error).message}`);
});
