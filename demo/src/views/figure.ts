// Save the view (a snapshot file for an embed or <lm-debugger>), export a view as a figure (SVG or PNG,
// each carrying the snapshot), and open a saved view or a figure dropped on the page.
import type { ViewName } from 'lmdbg';
import type { App } from '../app';
import { $, fieldError, h, replace } from '../dom';
import { FIGURE_VIEWS, figurePng, figureSvg, snapshotFromFile, svgText } from '../figures';

function download(name: string, data: BlobPart, type: string): void {
  const a = h('a', { href: URL.createObjectURL(new Blob([data], { type })), download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

const slug = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40) || 'view';

/** Opens a saved view or a figure file (dropped on the page or chosen); returns why not, or null. */
export async function openViewFile(app: App, file: File): Promise<string | null> {
  try {
    app.showSnapshot(await snapshotFromFile(file));
    return null;
  } catch (e) {
    return `Could not open ${file.name}: ${(e as Error).message}`;
  }
}

export function figureView(app: App): void {
  const el = $('#figures', app.root);
  const which = h('select', { id: 'figure-view' }, FIGURE_VIEWS.map((f) => h('option', { value: f.view }, f.label)));
  const status = h('p', { class: 'small muted', role: 'status', id: 'figure-status' });
  const save = h('button', { type: 'button', id: 'save-view' }, 'Save view');
  const svgBtn = h('button', { type: 'button', id: 'export-svg', class: 'small' }, 'SVG');
  const pngBtn = h('button', { type: 'button', id: 'export-png', class: 'small' }, 'PNG');
  const fileInput = h('input', { type: 'file', id: 'view-open', accept: '.json,.svg,.png,application/json,image/svg+xml,image/png', class: 'sr-only' });
  const error = fieldError(fileInput, 'view-open-error');
  replace(
    el,
    h('p', { class: 'small' }, 'A saved view is one file with the results in it: an embed or ', h('code', null, '<lm-debugger snapshot="…">'), ' draws it at once, with no model, until the reader makes it live.'),
    h('div', { class: 'row' }, save, h('label', { class: 'filebtn small', for: 'view-open' }, fileInput, h('span', null, 'Open a saved view or figure'))),
    error.el,
    h('div', { class: 'row small' }, h('label', { for: 'figure-view' }, 'Figure of '), which, svgBtn, pngBtn),
    status,
  );
  const base = () => slug(`${app.prompt.split(/\s+/).slice(0, 5).join(' ')}`);
  const busy = async (btn: HTMLButtonElement, what: string, fn: () => Promise<void>) => {
    btn.disabled = true;
    status.textContent = `${what}…`;
    try {
      await fn();
      status.textContent = `${what}: done.`;
    } catch (e) {
      status.textContent = `${what} failed: ${(e as Error).message}`;
    } finally {
      btn.disabled = false;
    }
  };
  save.addEventListener('click', () =>
    void busy(save, 'Saving the view', async () => download('lmdbg-view.json', `${JSON.stringify(await app.saveSnapshot())}\n`, 'application/json')),
  );
  svgBtn.addEventListener('click', () =>
    void busy(svgBtn, 'Exporting the SVG', async () => {
      const view = which.value as ViewName;
      download(`lmdbg-${view}-${base()}.svg`, svgText(figureSvg(await app.saveSnapshot(view), view)), 'image/svg+xml');
    }),
  );
  pngBtn.addEventListener('click', () =>
    void busy(pngBtn, 'Exporting the PNG', async () => {
      const view = which.value as ViewName;
      download(`lmdbg-${view}-${base()}.png`, await figurePng(await app.saveSnapshot(view), view), 'image/png');
    }),
  );
  fileInput.addEventListener('change', async () => {
    const f = fileInput.files?.[0];
    fileInput.value = '';
    if (f) error.show(await openViewFile(app, f));
  });
  const render = () => {
    const ready = !!app.trace && (!!app.dbg || !!app.snapshot);
    for (const b of [save, svgBtn, pngBtn]) b.disabled = !ready;
    if (FIGURE_VIEWS.some((f) => f.view === app.view)) which.value = app.view;
  };
  for (const ev of ['trace', 'model', 'snapshot', 'view'] as const) app.on(ev, render);
  render();
}
