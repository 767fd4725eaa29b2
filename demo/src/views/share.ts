// Share the current view as a link, or embed it in a blog post: an iframe of ?embed=1 (the model loads
// in the reader's browser), or <lm-debugger> given a saved view (drawn at once; the model only on request).
import type { App } from '../app';
import { $, h, replace } from '../dom';

function copyButton(get: () => string, what: string): HTMLButtonElement {
  const b = h('button', { type: 'button', class: 'small' }, `Copy ${what}`);
  b.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(get());
      b.textContent = 'Copied';
    } catch {
      b.textContent = 'Select and copy (Ctrl+C)';
    }
    setTimeout(() => (b.textContent = `Copy ${what}`), 1500);
  });
  return b;
}

export function embedSnippet(url: string): string {
  const safe = url.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
  return `<iframe src="${safe}" title="lmdbg: LM-Debugger for GPT-2 (live figure)" width="100%" height="460" style="border:1px solid #ddd;border-radius:8px" loading="lazy"></iframe>`;
}

/** The page's <lm-debugger> snippet for a saved view saved as `file` next to the post. */
export function elementSnippet(site: string, file: string): string {
  const safe = (u: string) => u.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
  return `<script type="module" src="${safe(new URL('lm-debugger.js', site).href)}"></script>\n<lm-debugger snapshot="${safe(file)}"></lm-debugger>`;
}

export function shareView(app: App): void {
  const el = $('#share', app.root);
  const link = h('input', { id: 'share-url', type: 'text', props: { readOnly: true }, class: 'mono' });
  const snippet = h('textarea', { id: 'embed-snippet', rows: '4', props: { readOnly: true }, class: 'mono' });
  const preview = h('a', { id: 'embed-preview', target: '_blank', rel: 'noopener' }, 'Preview the embed');
  const element = h('textarea', { id: 'element-snippet', rows: '3', props: { readOnly: true }, class: 'mono' });
  for (const x of [link, snippet, element]) x.addEventListener('focus', () => x.select());
  replace(
    el,
    h('label', { for: 'share-url', class: 'small' }, 'Link to this view (model, prompt, interventions, selected layer)'),
    h('div', { class: 'row' }, link, copyButton(() => link.value, 'link')),
    h('label', { for: 'embed-snippet', class: 'small' }, 'Embed a live figure in a web page'),
    snippet,
    h('div', { class: 'row' }, copyButton(() => snippet.value, 'snippet'), preview),
    h('label', { for: 'element-snippet', class: 'small' }, 'Or, with the view saved next to your post (Save view, below): drawn at once, the model loads only when a reader asks'),
    element,
    h('div', { class: 'row' }, copyButton(() => element.value, 'element')),
  );
  const render = () => {
    link.value = app.shareUrl(false);
    const e = app.shareUrl(true);
    snippet.value = embedSnippet(e);
    preview.href = e;
    element.value = elementSnippet(new URL('./', app.host.pageUrl ?? location.href).href, 'lmdbg-view.json');
  };
  for (const ev of ['model', 'prompt', 'interventions', 'layer', 'detail'] as const) app.on(ev, render);
  render();
}
