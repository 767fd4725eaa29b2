// The interventions panel: add by typing (L12D34, L12D34:set=2) or from any sub-update; switch each on/off
// (LM-Debugger semantics) or set a value; toggle it active; the page re-traces and shows the new prediction
// beside the clean one.
import type { InterventionMode } from 'lmdbg';
import type { App } from '../app';
import { toast } from '../busy';
import { $, h, replace } from '../dom';
import { MODES, MODES_WITH_VALUE, parseSpec, specOf } from '../state';

const MODE_LABEL: Record<InterventionMode, string> = {
  off: 'off (m = 0)',
  on: 'on (LM-Debugger: boost)',
  set: 'set m =',
  scale: 'scale m ×',
  add: 'add to m +',
  pre: 'set c_fc output =',
};

export function interventionsView(app: App): void {
  const el = $('#interventions');
  const input = h('input', { id: 'iv-spec', type: 'text', placeholder: 'L12D34 or L12D34:set=3', maxlength: '200', autocomplete: 'off', spellcheck: 'false', 'aria-describedby': 'iv-help' });
  const modeSel = h('select', { id: 'iv-mode', 'aria-label': 'Mode for the typed intervention' }, (['off', 'on'] as const).map((m) => h('option', { value: m }, MODE_LABEL[m])));
  const form = h(
    'form',
    { class: 'row iv-form' },
    h('label', { for: 'iv-spec' }, 'Add'),
    input,
    modeSel,
    h('button', { type: 'submit' }, 'Add'),
  );
  const help = h('p', { id: 'iv-help', class: 'small muted' }, 'Switching a sub-update off sets its coefficient to 0 at every position; on uses LM-Debugger’s boost (the layer’s top score + 0.01). Changes re-trace automatically.');
  const list = h('ul', { class: 'iv-list', 'aria-label': 'Interventions' });
  const footer = h('div', { class: 'row small' });
  replace(el, form, help, list, footer);

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    try {
      const spec = text.includes(':') ? text : `${text}:${modeSel.value}`;
      app.addIntervention(parseSpec(spec));
      input.value = '';
    } catch (err) {
      toast((err as Error).message);
      input.focus();
    }
  });

  const render = () => {
    const ivs = app.interventions;
    if (!ivs.length) {
      replace(list, h('li', { class: 'muted small empty' }, 'No interventions. Add one above, or with Off/On on any sub-update.'));
      replace(footer);
      return;
    }
    replace(
      list,
      ivs.map((iv, i) => {
        const name = `L${iv.layer}D${iv.index}`;
        const label = app.names.get(name);
        const id = `iv-${i}`;
        const mode = h('select', { id: `${id}-mode`, 'aria-label': `Mode of ${name}` }, MODES.map((m) => h('option', { value: m, props: { selected: m === iv.mode } }, MODE_LABEL[m])));
        mode.addEventListener('change', () => {
          const m = mode.value as InterventionMode;
          app.updateIntervention(i, { mode: m, value: MODES_WITH_VALUE.has(m) ? (iv.value ?? (m === 'scale' ? 2 : 5)) : undefined });
        });
        const value = h('input', { id: `${id}-value`, type: 'number', step: 'any', class: 'num-input', 'aria-label': `Value for ${name}`, props: { value: String(iv.value ?? ''), hidden: !MODES_WITH_VALUE.has(iv.mode) } });
        value.addEventListener('change', () => {
          const v = Number(value.value);
          if (value.value.trim() === '' || !Number.isFinite(v) || Math.abs(v) > 1e6) {
            toast('The value must be a number within ±1e6.');
            value.value = String(iv.value ?? '');
            return;
          }
          app.updateIntervention(i, { value: v });
        });
        const active = h('input', { id: `${id}-active`, type: 'checkbox', props: { checked: iv.active } });
        active.addEventListener('change', () => app.updateIntervention(i, { active: active.checked }));
        return h(
          'li',
          { class: ['iv', !iv.active && 'inactive'], 'data-spec': specOf(iv) },
          h('label', { class: 'iv-active', for: `${id}-active`, title: 'Apply this intervention' }, active, h('span', { class: 'sr-only' }, `Apply ${name}`)),
          h('button', { type: 'button', class: 'link iv-name', title: 'Open its details', on: { click: () => app.openDetail(iv.layer, iv.index) } }, name, label ? h('span', { class: 'muted' }, ` ${label}`) : null),
          mode,
          value,
          iv.positions?.length ? h('span', { class: 'small muted' }, `@${iv.positions.join(',')}`) : null,
          h('button', { type: 'button', class: 'small icon', 'aria-label': `Remove ${name}`, on: { click: () => app.removeIntervention(i) } }, '×'),
        );
      }),
    );
    const nActive = ivs.filter((x) => x.active).length;
    replace(
      footer,
      h('span', { class: 'muted' }, `${nActive} of ${ivs.length} active. `),
      h('button', { type: 'button', class: 'small', on: { click: () => app.clearInterventions() } }, 'Clear all'),
      h('button', { type: 'button', class: 'small', props: { disabled: !app.dbg }, on: { click: () => void app.runTrace() } }, 'Re-trace'),
    );
  };
  app.on('interventions', render);
  app.on('names', render);
  app.on('model', render);
  render();
}
