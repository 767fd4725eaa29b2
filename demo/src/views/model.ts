// Model picker, drag-and-drop of the user's own checkpoint, the "choose a model" welcome card, and the
// model card (config + the bundled model's README, shown as plain text).
import type { App } from '../app';
import { $, bytes, h, replace } from '../dom';
import { matchFiles, REQUIRED_FILES, CLUSTERS_FILE, siteUrl, type ModelEntry } from '../models';

function optionText(m: ModelEntry): string {
  const size = m.size ? ` (${bytes(m.size)})` : '';
  const off = m.kind !== 'files' && m.offline ? ' · available offline' : '';
  return `${m.label}${size}${off}`;
}

export function modelView(app: App): void {
  const select = $('#model-select') as HTMLSelectElement;
  const loadBtn = $('#model-load') as HTMLButtonElement;
  const status = $('#model-status');
  const drop = $('#model-drop');
  const fileInput = $('#model-files') as HTMLInputElement;
  const dropList = $('#model-drop-list');

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
      bits.push(`Loaded: ${app.modelLabel} · ${c.nLayers} layers · d=${c.dModel} · ${c.dMlp} neurons/layer`);
    } else bits.push('No model loaded');
    if (e && e.kind !== 'files' && e.offline) bits.push('✓ selected model available offline');
    status.textContent = bits.join(' · ');
  };
  const renderDropList = () => {
    const m = matchFiles(app.droppedFiles);
    replace(
      dropList,
      REQUIRED_FILES.map((n) => h('li', { class: m.missing.includes(n) ? 'missing' : 'ok' }, m.missing.includes(n) ? `✗ ${n}` : `✓ ${n}`)),
      m.clusters ? h('li', { class: 'ok' }, `✓ ${CLUSTERS_FILE}`) : null,
      m.ignored.length ? h('li', { class: 'muted' }, `ignored: ${m.ignored.join(', ')}`) : null,
    );
  };

  select.addEventListener('change', () => {
    app.selected = select.value;
    renderStatus();
  });
  loadBtn.addEventListener('click', () => void app.load(select.value));

  const addFiles = (files: FileList | File[] | null) => {
    if (!files) return;
    const byName = new Map(app.droppedFiles.map((f) => [f.name, f]));
    for (const f of Array.from(files)) byName.set(f.name, f);
    app.droppedFiles = Array.from(byName.values()).slice(0, 16);
    app.selected = 'files';
    select.value = 'files';
    renderStatus();
    renderDropList();
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
    drop.hidden = false;
    addFiles(e.dataTransfer.files);
  });

  app.on('models', renderOptions);
  app.on('model', () => {
    renderOptions();
    renderCard(app);
  });
  app.on('pending', () => renderWelcome(app));
  renderOptions();
  renderDropList();
  renderCard(app);
}

export function renderWelcome(app: App): void {
  const sec = $('#welcome');
  const body = $('#welcome-body');
  const p = app.pending;
  sec.hidden = !p;
  if (!p) return;
  const bundled = app.models.find((m) => m.kind === 'bundled');
  const rows: Node[] = [];
  if (p.kind === 'hub') {
    rows.push(
      h('p', null, `This view uses ${p.label}. Its weights download once (${p.size ? bytes(p.size) : 'several hundred MB'}) and are then kept in this browser for offline use.`),
      h('button', { type: 'button', class: 'primary', on: { click: () => void app.load(p.key) } }, `Download and load ${p.id}`),
    );
  } else if (p.kind === 'files') {
    rows.push(h('p', null, 'Drop the four files of a GPT-2 checkpoint (Hugging Face layout) anywhere on the page, or choose them above.'));
  } else {
    rows.push(h('button', { type: 'button', class: 'primary', on: { click: () => void app.load(p.key) } }, `Load ${p.label}`));
  }
  if (bundled && p.kind !== 'bundled') {
    rows.push(
      h('p', null, 'Or start right away with the small model bundled with this page (works offline):'),
      h('button', { type: 'button', on: { click: () => void app.load(bundled.key) } }, `Load ${bundled.id} (${bytes(bundled.size ?? 0)})`),
    );
  }
  replace(body, rows);
}

async function renderCard(app: App): Promise<void> {
  const el = $('#model-card');
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
    const pre = h('pre', { class: 'readme' }, 'Loading the model card…');
    parts.push(h('details', { open: true }, h('summary', null, 'Model card (README.md)'), pre));
    replace(el, parts);
    try {
      const r = await fetch(siteUrl(`models/${entry.id}/README.md`));
      const text = r.ok ? await r.text() : 'The model card is not available.';
      pre.textContent = text.slice(0, 20000);
    } catch {
      pre.textContent = 'The model card is not available offline yet.';
    }
    return;
  }
  if (entry?.kind === 'hub')
    parts.push(h('p', { class: 'small muted' }, 'Weights from the Hugging Face Hub: ', h('code', null, entry.id ?? ''), '. They are kept in this browser (Cache Storage) after the first download.'));
  replace(el, parts);
}
