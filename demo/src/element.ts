// <lm-debugger>: the demo's compact figure (views/embed.ts, the same views as ?embed=1) as a custom
// element, for a blog post or course notes: one <script type="module"> and no build step.
//
//   <script type="module" src="lm-debugger.js"></script>
//   <lm-debugger snapshot="views/capital.json"></lm-debugger>
//   <lm-debugger model="hub:openai-community/gpt2" prompt="The capital of France is" interventions="L11D2046:off" view="lens"></lm-debugger>
//
// Attributes (read once, when the element is first shown):
//   snapshot       a saved view (lmdbg snapshot, or the page's "Save view"): drawn at once, no model
//   model          where "Make it live" loads the model: hub:ID, a folder URL, or "bundled" (the demo's own)
//   prompt, interventions ("L9D1234:off !L3D5:on", "!" = switched off), view (prediction, lens, ...), layer
//   live           load the model as soon as the figure is shown (without a snapshot)
//   hub            a Hub mirror (same-origin path), as the page's ?hub=
// Several figures on one page share one Worker and one model per source, start only when scrolled
// near the viewport, and keep their style inside their shadow root.
import css from './style.css?inline';
import { LMDebugger, type Debugger, type LoadOptions, type LoadProgress, type ModelSource } from 'lmdbg';
import { App, type AppHost } from './app';
import { Busy } from './busy';
import { $, tooltips } from './dom';
import { emptyState, LIMITS, readSpecs, readView } from './state';
import { embedShell, embedView, sharedViews } from './views/embed';
import { renderWelcome } from './views/model';

/** Set by the build: true in the demo site's lm-debugger.js, false in the npm package's element.js. */
declare const __LMDBG_SITE__: boolean;
/** The demo site's folder: where this script lives (its bundled models, its full page). */
const SITE = new URL('./', import.meta.url).href;

// ---- one Worker and one model per source, for every figure of the page

interface Shared {
  promise: Promise<Debugger>;
  listeners: Set<(p: LoadProgress) => void>;
}
const models = new Map<string, Shared>();

function sharedModel(source: ModelSource, options: LoadOptions): Promise<Debugger> {
  const key = JSON.stringify([String(source), options.dtype ?? 'f32', options.hubHost ?? '']);
  let s = models.get(key);
  if (!s) {
    const listeners = new Set<(p: LoadProgress) => void>();
    // No signal: a figure that stops waiting does not stop the load the others wait for.
    const { signal: _signal, onProgress: _p, ...rest } = options;
    const promise = LMDebugger.load(source, { ...rest, worker: true, onProgress: (p) => listeners.forEach((l) => l(p)) });
    s = { promise, listeners };
    models.set(key, s);
    promise.catch(() => models.delete(key)); // a failed load can be tried again
  }
  const mine = options.onProgress;
  if (mine) s.listeners.add(mine);
  const done = () => mine && s!.listeners.delete(mine);
  const signal = options.signal;
  return new Promise<Debugger>((resolve, reject) => {
    const onAbort = () => {
      done();
      reject(signal!.reason ?? new DOMException('The load was cancelled', 'AbortError'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    s!.promise.then(
      (d) => {
        signal?.removeEventListener('abort', onAbort);
        done();
        resolve(d);
      },
      (e) => {
        signal?.removeEventListener('abort', onAbort);
        done();
        reject(e);
      },
    );
  });
}

/** The page's number of distinct models loaded or loading (for tests and the console). */
export function sharedModels(): number {
  return models.size;
}

// ---- the element

let sheet: CSSStyleSheet | null = null;
const view = new IntersectionObserver(
  (entries) => {
    for (const e of entries)
      if (e.isIntersecting) {
        view.unobserve(e.target);
        void (e.target as LmDebugger).start();
      }
  },
  { rootMargin: '300px 0px' },
);

export class LmDebugger extends HTMLElement {
  /** The figure's state and calls (null until it is first shown). */
  app: App | null = null;
  #started = false;

  connectedCallback(): void {
    if (this.shadowRoot) return; // moved within the page: already built
    const root = this.attachShadow({ mode: 'open' });
    if (!sheet) {
      sheet = new CSSStyleSheet();
      sheet.replaceSync(css);
    }
    root.adoptedStyleSheets = [sheet];
    const box = document.createElement('div');
    box.className = 'lm-figure';
    root.append(box);
    embedShell(box, true);
    view.observe(this);
  }

  disconnectedCallback(): void {
    if (!this.#started) view.unobserve(this);
  }

  /** Builds the figure and fetches what it shows (called when it comes near the viewport). */
  async start(): Promise<void> {
    if (this.#started || !this.shadowRoot) return;
    this.#started = true;
    const root = this.shadowRoot;
    const warnings: string[] = [];
    const warn = (w: string) => warnings.push(w);
    const st = emptyState();
    const attr = (n: string) => this.getAttribute(n);
    st.snapshot = attr('snapshot') ? new URL(attr('snapshot')!, document.baseURI).href : null;
    const model = attr('model')?.trim();
    if (model) st.model = model.slice(0, LIMITS.url);
    st.prompt = attr('prompt')?.slice(0, LIMITS.prompt) ?? null;
    st.interventions = readSpecs((attr('interventions') ?? '').split(/[\s,]+/).filter(Boolean), warn, 'the interventions attribute');
    st.view = readView(attr('view'), warn);
    const layer = Number(attr('layer'));
    if (attr('layer') !== null && Number.isInteger(layer) && layer >= 0) st.layer = layer;
    st.hub = attr('hub');
    st.embed = true;
    const host: AppHost = {
      root,
      urlSync: false,
      pageUrl: __LMDBG_SITE__ ? SITE : null,
      loadModel: sharedModel,
      siteBase: SITE,
      autoLive: this.hasAttribute('live'),
    };
    tooltips(root);
    const app = new App(new Busy($('#busy', root)), st, host);
    this.app = app;
    app.busy.busyTargets = [$('#prediction', root)];
    sharedViews(app);
    embedView(app);
    app.on('pending', () => renderWelcome(app));
    for (const w of warnings) app.toast(w, 'info');
    await app.start();
    this.dispatchEvent(new CustomEvent('lmdbg-ready', { bubbles: true }));
  }
}

if (!customElements.get('lm-debugger')) customElements.define('lm-debugger', LmDebugger);
