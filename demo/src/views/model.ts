// Model picker, drag-and-drop of the user's own checkpoint, the "choose a model" welcome card, and the
// model card (config + the bundled model's README, shown as plain text).
import type { App } from '../app';
import { $, bytes, h, replace, shortText } from '../dom';
import { renderMarkdown } from '../markdown';
import { openViewFile } from './figure';
import { matchFiles, REQUIRED_FILES, CLUSTERS_FILE, siteUrl, type ModelEntry } from '../models';

/** Short enough for a phone's select: the size or "offline"; where it comes from is in the status line. */
function optionText(m: ModelEntry): string {
  const name = m.kind === 'hub' ? shortText(m.label, 28).shown : m.label;
  if (m.kind === 'files') return m.offline ? `${name} · offline` : name;
  return `${name} · ${m.offline ? 'offline' : m.size ? bytes(m.size) : 'Hub'}`;
}

function origin(m: ModelEntry): string {
  return m.kind === 'hub' ? `${m.id} from the Hugging Face Hub` : m.kind === 'bundled' ? 'the small model bundled with this page' : 'your own checkpoint files';
}

export function modelView(app: App): void {
  const select = $('#model-select', app.root) as HTMLSelectElement;
  const loadBtn = $('#model-load', app.root) as HTMLButtonElement;
  const status = $('#model-status', app.root);
  const drop = $('#model-drop', app.root);
  const fileInput = $('#model-files', app.root) as HTMLInputElement;
  const dropList = $('#model-drop-list', app.root);
  const keptNote = h('p', { id: 'files-kept', class: 'small muted' });
  dropList.after(keptNote);
  // Whether the model is kept for offline use (or why not), and why a load failed.
  const note = h('p', { id: 'model-note', class: 'model-note', 'aria-live': 'polite' });
  status.closest('.row')!.after(note);
  const renderNote = () => {
    note.className = ['model-note', app.loadError && 'field-error', !app.loadError && 'muted'].filter(Boolean).join(' ');
    note.textContent = app.loadError || app.liveNote || app.snapshotError || app.storageNote;
    note.hidden = !note.textContent;
  };

  const renderOptions = () => {
    replace(select, app.models.map((m) => h('option', { value: m.key, props: { selected: m.key === app.selected } }, optionText(m))));
    select.value = app.selected;
    renderStatus();
  };
  const renderStatus = () => {
    const e = app.entry(select.value);
    drop.hidden = e?.kind !== 'files';
    const loaded = app.modelKey === select.value && app.dbg;
    loadBtn.textContent = loaded ? 'Reload' : 'Load';
    const bits: string[] = [];
    if (app.dbg && app.modelKey) {
      const c = app.dbg.config;
      bits.push(`Loaded: ${app.modelLabel} · ${c.nLayers} layers · d=${c.dModel} · ${c.dMlp} neurons/layer.`);
    } else bits.push('No model loaded.');
    if (e) {
      const where = e.kind === 'files' ? '' : e.offline ? ', available offline' : e.size ? `, ${bytes(e.size)} to download` : '';
      bits.push(`${e.key === app.modelKey ? 'From' : 'Selected:'} ${origin(e)}${where}.`);
    }
    status.textContent = bits.join(' ');
  };
  const renderDropList = () => {
    const m = matchFiles(app.droppedFiles);
    replace(
      dropList,
      REQUIRED_FILES.map((n) => h('li', { class: m.missing.includes(n) ? 'missing' : 'ok' }, m.missing.includes(n) ? `✗ ${n}` : `✓ ${n}`)),
      m.clusters ? h('li', { class: 'ok' }, `✓ ${CLUSTERS_FILE}`) : null,
      m.ignored.length ? h('li', { class: 'muted' }, `ignored: ${m.ignored.join(', ')}`) : null,
    );
    replace(
      keptNote,
      app.filesNote,
      app.droppedFiles.length && !app.filesNote.startsWith('Not kept') ? [' ', h('button', { type: 'button', class: 'small', id: 'files-forget', on: { click: () => void app.forgetFiles() } }, 'Forget them')] : null,
    );
  };

  select.addEventListener('change', () => {
    app.selected = select.value;
    renderStatus();
  });
  loadBtn.addEventListener('click', () => void app.load(select.value));

  const addFiles = (files: FileList | File[] | null) => {
    if (!files?.length) return;
    // A saved view or an exported figure opens as a view; the checkpoint's own files load a model.
    const modelNames = [...REQUIRED_FILES, CLUSTERS_FILE];
    const views = Array.from(files).filter((f) => !modelNames.includes(f.name) && /\.(json|svg|png)$/i.test(f.name));
    if (views.length) {
      void openViewFile(app, views[0]!).then((why) => why && app.toast(why));
      files = Array.from(files).filter((f) => !views.includes(f));
      if (!files.length) return;
    }
    app.selected = 'files';
    select.value = 'files';
    void app.dropFiles(Array.from(files));
    renderStatus();
    if (matchFiles(app.droppedFiles).missing.length === 0) void app.load('files');
  };
  fileInput.addEventListener('change', () => addFiles(fileInput.files));
  // The whole page accepts a drop (people aim badly); the drop zone highlights.
  const prevent = (e: DragEvent) => {
    if (e.dataTransfer?.types.includes('Files')) {
      e.preventDefault();
      drop.classList.add('over');
    }
  };
  document.addEventListener('dragover', prevent);
  document.addEventListener('dragenter', prevent);
  document.addEventListener('dragleave', (e) => {
    if (!e.relatedTarget) drop.classList.remove('over');
  });
  document.addEventListener('drop', (e) => {
    if (!e.dataTransfer?.files.length) return;
    e.preventDefault();
    drop.classList.remove('over');
    addFiles(e.dataTransfer.files);
  });

  app.on('models', renderOptions);
  app.on('model', () => {
    renderOptions();
    renderCard(app);
  });
  app.on('pending', () => renderWelcome(app));
  app.on('files', renderDropList);
  app.on('storage', renderNote);
  app.on('snapshot', renderNote);
  app.on('model', renderNote);
  for (const ev of ['online', 'offline']) window.addEventListener(ev, () => renderWelcome(app));
  renderOptions();
  renderDropList();
  renderCard(app);
}

export function renderWelcome(app: App): void {
  const sec = $('#welcome', app.root);
  const body = $('#welcome-body', app.root);
  const p = app.pending;
  sec.hidden = !p;
  if (!p) return;
  const offline = !navigator.onLine;
  const rows: Node[] = [];
  if (app.frozen)
    rows.push(h('p', null, h('strong', null, 'A saved view'), `, drawn from its file${app.snapshot!.model.name ? ` (made with ${app.snapshot!.model.name})` : ''}. To change it, make it live:`));
  // What loads with no network: the bundled model, cached Hub models, the user's kept files.
  const here = app.models.filter((m) => m.key !== p.key && (m.kind === 'bundled' || m.offline));
  const hereButton = (m: ModelEntry, primary: boolean) =>
    h('button', { type: 'button', class: [primary && 'primary'], on: { click: () => void app.load(m.key) } }, m.kind === 'files' ? 'Load your kept files' : `Load ${m.label}${m.kind === 'bundled' && m.size ? ` (${bytes(m.size)})` : ''}`);
  if (p.kind === 'hub' && !p.offline && offline) {
    rows.push(h('p', null, `You are offline. This view uses ${p.label} (${p.id}) from the Hugging Face Hub, which needs a connection to download ${p.size ? bytes(p.size) : 'its weights'}.`));
    rows.push(here.length ? h('p', null, 'Available offline in this browser:') : h('p', null, 'Nothing else is available offline yet.'));
    rows.push(h('div', { class: 'row' }, here.map((m, i) => hereButton(m, i === 0))));
    rows.push(h('p', { class: 'small muted' }, `Once you are online: `), h('button', { type: 'button', on: { click: () => void app.load(p.key) } }, `Download and load ${p.id}`));
    replace(body, rows);
    return;
  }
  if (app.loadError) rows.push(h('p', { class: 'field-error', role: 'alert' }, app.loadError, p.kept ? ' What was downloaded is kept: loading again resumes from there.' : ''));
  if (p.kind === 'hub') {
    const resume = !p.offline && p.kept ? `Resume the download of ${p.id} (${bytes(p.kept)}${p.size ? ` of ${bytes(p.size)}` : ''} already here)` : null;
    rows.push(
      h('p', null, p.offline ? `This view uses ${p.label} (${p.id}), available offline in this browser.` : `This view uses ${p.label} from the Hugging Face Hub. Its weights download once${p.size ? ` (${bytes(p.size)})` : ''} and are then kept in this browser for offline use.`),
      h('button', { type: 'button', class: 'primary', on: { click: () => void app.load(p.key) } }, p.offline ? `Load ${p.id}` : (resume ?? `Download and load ${p.id}`)),
    );
  } else if (p.kind === 'files') {
    rows.push(h('p', null, 'Drop the four files of a GPT-2 checkpoint (Hugging Face layout) anywhere on the page, or choose them above.'));
  } else {
    rows.push(h('button', { type: 'button', class: 'primary', on: { click: () => void app.load(p.key) } }, `Load ${p.label}`));
  }
  if (here.length) {
    rows.push(h('p', null, p.kind === 'hub' ? 'Or start right away with what is available offline:' : 'Or load what is available offline:'), h('div', { class: 'row' }, here.map((m) => hereButton(m, false))));
  }
  replace(body, rows);
}

async function renderCard(app: App): Promise<void> {
  const el = $('#model-card', app.root);
  const dbg = app.dbg;
  if (!dbg) {
    replace(el, h('p', { class: 'muted' }, 'No model loaded yet.'));
    return;
  }
  const c = dbg.config;
  const entry = app.entry(app.modelKey);
  const dl = h(
    'dl',
    { class: 'kv' },
    [
      ['Model', app.modelLabel],
      ['Layers', c.nLayers],
      ['Heads', c.nHeads],
      ['d_model', c.dModel],
      ['Neurons per layer (d_mlp)', c.dMlp],
      ['Vocabulary', c.dVocab],
      ['Context', c.nCtx],
      ['Value-vector clusters', app.hasClusters ? 'loaded' : 'none'],
    ].map(([k, v]) => [h('dt', null, String(k)), h('dd', null, String(v))]),
  );
  const parts: Node[] = [dl];
  if (entry?.kind === 'bundled' && app.bundled?.files['README.md']) {
    const card = h('div', { class: 'readme', tabindex: '0', 'aria-label': 'Model card' }, h('p', { class: 'muted' }, 'Loading the model card…'));
    parts.push(h('details', { open: true }, h('summary', null, 'Model card (README.md)'), card));
    replace(el, parts);
    try {
      const r = await fetch(siteUrl(`models/${entry.id}/README.md`));
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      replace(card, renderMarkdown((await r.text()).slice(0, 100_000)));
    } catch {
      replace(card, h('p', { class: 'muted' }, 'The model card is not available (offline and not kept yet).'));
    }
    return;
  }
  if (entry?.kind === 'hub')
    parts.push(h('p', { class: 'small muted' }, 'Weights from the Hugging Face Hub: ', h('code', null, entry.id ?? ''), '. They are kept in this browser (Cache Storage) after the first download.'));
  replace(el, parts);
}
