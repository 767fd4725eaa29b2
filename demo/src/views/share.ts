// Share the current view as a link, or embed it (an iframe of ?embed=1) in a blog post.
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

export function shareView(app: App): void {
  const el = $('#share');
  const link = h('input', { id: 'share-url', type: 'text', props: { readOnly: true }, class: 'mono' });
  const snippet = h('textarea', { id: 'embed-snippet', rows: '4', props: { readOnly: true }, class: 'mono' });
  const preview = h('a', { id: 'embed-preview', target: '_blank', rel: 'noopener' }, 'Preview the embed');
  for (const x of [link, snippet]) x.addEventListener('focus', () => x.select());
  replace(
    el,
    h('label', { for: 'share-url', class: 'small' }, 'Link to this view (model, prompt, interventions, selected layer)'),
    h('div', { class: 'row' }, link, copyButton(() => link.value, 'link')),
    h('label', { for: 'embed-snippet', class: 'small' }, 'Embed a live figure in a web page'),
    snippet,
    h('div', { class: 'row' }, copyButton(() => snippet.value, 'snippet'), preview),
  );
  const render = () => {
    link.value = app.shareUrl(false);
    const e = app.shareUrl(true);
    snippet.value = embedSnippet(e);
    preview.href = e;
  };
  for (const ev of ['model', 'prompt', 'interventions', 'layer', 'detail'] as const) app.on(ev, render);
  render();
}
