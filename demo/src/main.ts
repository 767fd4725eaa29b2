// Entry point: the full debugger, or (?embed=1) the compact live figure.
import './style.css';
import { App } from './app';
import { Busy, toast } from './busy';
import { $, tabs, tooltips } from './dom';
import { simdSupported } from 'lmdbg';
import { attentionView } from './views/attention';
import { compareView } from './views/compare';
import { detailsView } from './views/details';
import { embedShell, embedView } from './views/embed';
import { generateView } from './views/generate';
import { interventionsView } from './views/interventions';
import { layersView } from './views/layers';
import { lensView, rankView } from './views/lens';
import { modelView, renderWelcome } from './views/model';
import { predictionView, promptView } from './views/prediction';
import { searchView } from './views/search';
import { shareView } from './views/share';

function registerServiceWorker(): void {
  if (!('serviceWorker' in navigator) || !window.isSecureContext) return;
  navigator.serviceWorker.register(new URL('sw.js', document.baseURI), { scope: './' }).catch((e) => console.warn('service worker:', e));
}

async function main(): Promise<void> {
  const embed = new URLSearchParams(location.search).get('embed') === '1';
  if (embed) {
    document.documentElement.classList.add('is-embed');
    $('#app').remove();
    const root = $('#embed-root');
    root.hidden = false;
    embedShell(root);
  } else {
    $('#embed-root').remove();
  }
  if (!simdSupported()) {
    toast('This browser cannot run WebAssembly SIMD, which lmdbg needs. Try a recent Chrome, Edge, Firefox or Safari (16.4+).');
    return;
  }
  tooltips();
  const busy = new Busy($('#busy'));
  const app = new App(busy);
  busy.busyTargets = [$('#prediction')];
  (window as unknown as { lmdbgApp: App }).lmdbgApp = app; // for the end-to-end tests and the console

  promptView(app);
  predictionView(app);
  rankView(app);
  if (embed) {
    embedView(app);
    app.on('pending', () => renderWelcome(app));
  } else {
    modelView(app);
    layersView(app);
    lensView(app);
    attentionView(app);
    compareView(app);
    interventionsView(app);
    generateView(app);
    detailsView(app);
    searchView(app);
    shareView(app);
    tabs($('#view-tabs'))('lens');
  }
  // After the first model load, so that the worker's precache revalidates what the page just fetched
  // instead of downloading the bundled model a second time.
  await app.start();
  registerServiceWorker();
}

main().catch((e) => {
  console.error(e);
  toast(`lmdbg could not start: ${(e as Error).message}`);
});
