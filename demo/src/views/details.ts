// A value vector in detail: its top and bottom tokens (wte · v, no layer norm), its cluster when clusters
// are loaded, its role in the current trace, a user-given name (localStorage; export/import as JSON), and
// buttons that add it as an intervention.
import type { ClusterInfo, ValueVector } from 'lmdbg';
import type { App } from '../app';
import { $, fieldError, fmt, h, replace, runLabel, tokenEl } from '../dom';
import { MAX_NAME } from '../names';
import { parseName, readSpec } from '../state';

export function detailsView(app: App): void {
  const el = $('#details', app.root);
  const namesBar = h('div', { class: 'row small names-bar' });
  const body = h('div', { class: 'details-body' });
  replace(el, body, namesBar);
  let seq = 0;

  const importStatus = h('span', { class: 'small', role: 'status' });
  const renderNamesBar = () => {
    const fileInput = h('input', { type: 'file', accept: '.json,application/json', class: 'sr-only', id: 'names-import' });
    const error = fieldError(fileInput, 'names-import-error', 'span');
    fileInput.addEventListener('change', async () => {
      const f = fileInput.files?.[0];
      fileInput.value = '';
      if (!f) return;
      importStatus.textContent = '';
      const c = app.config;
      try {
        if (!c) throw new Error('load a model first: names are checked against it');
        const { imported, from } = app.names.importJson(await f.text(), c);
        importStatus.textContent = `Imported ${imported} name${imported === 1 ? '' : 's'} from ${f.name}${from ? ` (exported for ${from})` : ''}.`;
      } catch (e) {
        error.show(`Could not import ${f.name}: ${(e as Error).message}`);
      }
    });
    const exportBtn = h('button', {
      type: 'button',
      class: 'small',
      on: {
        click: () => {
          const blob = new Blob([app.names.exportJson()], { type: 'application/json' });
          const a = h('a', { href: URL.createObjectURL(blob), download: 'lmdbg-names.json' });
          document.body.append(a);
          a.click();
          a.remove();
          setTimeout(() => URL.revokeObjectURL(a.href), 1000);
        },
      },
    }, 'Export names');
    replace(
      namesBar,
      h('span', { class: 'muted' }, `${app.names.count()} named value vector${app.names.count() === 1 ? '' : 's'} (saved in this browser). `),
      exportBtn,
      h('label', { class: 'filebtn small', for: 'names-import' }, fileInput, h('span', null, 'Import names')),
      importStatus,
      error.el,
    );
  };

  const render = async () => {
    const d = app.detail;
    const my = ++seq;
    if (!app.dbg || !d) {
      replace(body, h('p', { class: 'muted placeholder' }, 'Open a sub-update (e.g. a chip like L9D1234 in the layers table, or a search result) to see what its value vector promotes.'), openForm(app));
      renderNamesBar();
      return;
    }
    body.setAttribute('aria-busy', 'true');
    let vv: ValueVector;
    try {
      vv = await app.valueVector(d.layer, d.index);
    } catch (e) {
      if (my === seq) replace(body, h('p', { class: 'error' }, (e as Error).message), openForm(app));
      body.setAttribute('aria-busy', 'false');
      return;
    }
    if (my !== seq) return;
    body.setAttribute('aria-busy', 'false');
    replace(body, renderVector(app, vv), openForm(app));
    renderNamesBar();
  };

  app.on('detail', () => {
    void render();
    // On narrow screens the panel is far below: bring it into view.
    if (app.detail && window.matchMedia('(max-width: 900px)').matches) $('#details-card', app.root).scrollIntoView({ block: 'start', behavior: 'smooth' });
  });
  app.on('model', () => void render());
  // Idle-time clustering: the progress in place (typed inputs stay), the cluster once ready.
  app.on('clusters', () => {
    const pending = body.querySelector('.clusters-pending');
    if (app.hasClusters) {
      if (app.detail) void render();
    } else if (pending) pending.textContent = clustersPending(app);
  });
  app.on('names', () => {
    renderNamesBar();
    const input = body.querySelector<HTMLInputElement>('#vv-name');
    if (app.detail && input && document.activeElement !== input) input.value = app.names.get(`L${app.detail.layer}D${app.detail.index}`) ?? '';
  });
  app.on('trace', () => {
    if (app.detail) void render();
  });
  void render();
}

function openForm(app: App): HTMLElement {
  const input = h('input', { id: 'vv-open', type: 'text', placeholder: 'L9D1234', maxlength: '16', autocomplete: 'off', spellcheck: 'false' });
  const error = fieldError(input, 'vv-open-error');
  const form = h(
    'form',
    { class: 'row small open-form' },
    h('label', { for: 'vv-open' }, 'Open a value vector '),
    input,
    h('button', { type: 'submit', class: 'small' }, 'Open'),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const typed = input.value.trim();
    const r = parseName(typed);
    const c = app.config;
    const why = !c
      ? 'Load a model first.'
      : !r
        ? `"${typed.slice(0, 24)}" is not a value-vector name like L${c.nLayers - 1}D${Math.min(42, c.dMlp - 1)}.`
        : r.layer >= c.nLayers
          ? `Layer ${r.layer} is outside this model (${c.nLayers} layers: 0–${c.nLayers - 1}).`
          : r.index >= c.dMlp
            ? `Neuron ${r.index} is outside this model (${c.dMlp} per layer: 0–${c.dMlp - 1}).`
            : null;
    error.show(why);
    if (!why) app.openDetail(r!.layer, r!.index);
  });
  return h('div', null, form, error.el);
}

function tokenTable(title: string, list: { id: number; text: string; logit: number }[]): HTMLElement {
  return h(
    'div',
    { class: 'mini-list' },
    h('h4', null, title),
    h('ol', null, list.map((t) => h('li', null, tokenEl(t), h('span', { class: 'num' }, fmt(t.logit, 2))))),
  );
}

function clustersPending(app: App): string {
  return `Clusters of value vectors: computing in the background (${Math.floor(app.clusterProgress * 100)}%), after the search index; they appear here when ready.`;
}

function clusterBlock(app: App, c: ClusterInfo): HTMLElement {
  return h(
    'div',
    { class: 'cluster' },
    h('h4', null, `Cluster ${c.id} · ${c.size} value vectors`, c.computed ? h('span', { class: 'muted small' }, ' · computed in this browser') : null),
    h('p', { class: 'toklist' }, c.topTokens.slice(0, 10).map((t) => tokenEl(t))),
    h(
      'p',
      { class: 'chips' },
      c.members.slice(0, 12).map((m) => h('button', { type: 'button', class: 'chip', on: { click: () => app.openDetail(m.layer, m.index) } }, h('span', { class: 'chip-name' }, m.name))),
      c.size > 12 ? h('span', { class: 'muted small' }, ` … ${c.size - 12} more`) : null,
    ),
  );
}

function renderVector(app: App, vv: ValueVector): HTMLElement {
  const nameInput = h('input', { id: 'vv-name', type: 'text', maxlength: String(MAX_NAME), placeholder: 'e.g. “French cities”', autocomplete: 'off', props: { value: app.names.get(vv.name) ?? '' } });
  nameInput.addEventListener('change', () => app.names.set(vv.name, nameInput.value));
  // Role in the current trace, when it is one of the shown sub-updates.
  const pos = app.trace?.positions[app.trace.positions.length - 1];
  const su = pos?.layers[vv.layer]?.subUpdates.find((x) => x.index === vv.index);
  const valueInput = h('input', { id: 'vv-value', type: 'text', inputmode: 'decimal', props: { value: '5' }, class: 'num-input' });
  const valueError = fieldError(valueInput, 'vv-value-error');
  const add = (mode: 'off' | 'on' | 'set') => {
    let why: string | null;
    try {
      // The package's parser reads the typed value (and says what is wrong with it).
      why = app.addIntervention(readSpec(`${vv.name}:${mode}${mode === 'set' ? `=${valueInput.value.trim()}` : ''}`));
    } catch (e) {
      why = (e as Error).message.replace(/^intervention: /, '');
    }
    valueError.show(why && why.replace(/^./, (c) => c.toUpperCase()));
  };
  return h(
    'div',
    { class: 'vv', 'data-name': vv.name },
    h('h3', { class: 'vv-title' }, vv.name, app.names.get(vv.name) ? h('span', { class: 'muted' }, ` “${app.names.get(vv.name)}”`) : null),
    h('p', { class: 'small muted' }, `Layer ${vv.layer}, neuron ${vv.index} · ‖v‖ = ${fmt(vv.norm)} · its tokens are the weights’, the same in every run`),
    // One line whatever the trace says, so a re-trace does not move the panels below.
    h(
      'p',
      { class: 'small muted one-line' },
      !pos ? 'Not traced yet.' : ['In the ', runLabel(app.trace), su ? `: m = ${fmt(su.coef)}, score ${fmt(su.score)}, direct ${fmt(su.direct)}` : ': not among the dominant sub-updates.'],
    ),
    h('div', { class: 'row small' }, h('label', { for: 'vv-name' }, 'Name '), nameInput),
    h('div', { class: 'two' }, tokenTable('Promotes (top)', vv.top), tokenTable('Suppresses (bottom)', vv.bottom)),
    vv.cluster
      ? clusterBlock(app, vv.cluster)
      : app.hasClusters
        ? null
        : h('p', { class: 'small muted clusters-pending' }, clustersPending(app)),
    h(
      'div',
      { class: 'row actions' },
      h('button', { type: 'button', on: { click: () => add('off') } }, 'Switch off'),
      h('button', { type: 'button', on: { click: () => add('on') } }, 'Switch on'),
      h('label', { for: 'vv-value', class: 'small' }, ' or set m = '),
      valueInput,
      h('button', { type: 'button', on: { click: () => add('set') } }, 'Set'),
    ),
    valueError.el,
  );
}
