// The interventions panel: add by typing (L12D34, L12D34:set=2, L3H5:off) or from any sub-update or head;
// switch each on/off (LM-Debugger semantics) or set a value; toggle it active; the page re-traces and
// shows the new prediction beside the clean one.
import type { InterventionMode } from 'lmdbg';
import type { App } from '../app';
import { $, fieldError, h, replace } from '../dom';
import { HEAD_MODES, MODES, readSpec, specOf, takesValue, targetName, LIMITS } from '../state';

const MODE_LABEL: Record<InterventionMode, string> = {
  off: 'off (m = 0)',
  on: 'on (LM-Debugger)',
  set: 'set m =',
  scale: 'scale m ×',
  add: 'add to m +',
  pre: 'set c_fc output =',
};
/** The same modes on a head: they act on its output (z_h, so hook_result). */
const HEAD_MODE_LABEL: Partial<Record<InterventionMode, string>> = {
  off: 'off (output = 0)',
  scale: 'scale output ×',
};

/** "l12d34" + "on" -> "l12d34:on"; text that names a mode (or uses the CLI's 12:34:… form) is left as typed. */
function withMode(text: string, mode: string): string {
  if (text.includes(':')) return text;
  const at = text.indexOf('@');
  return at < 0 ? `${text}:${mode}` : `${text.slice(0, at)}:${mode}${text.slice(at)}`;
}

export function interventionsView(app: App): void {
  const el = $('#interventions', app.root);
  const input = h('input', { id: 'iv-spec', type: 'text', placeholder: 'L12D34 or L3H5', maxlength: String(LIMITS.spec), autocomplete: 'off', spellcheck: 'false', 'aria-describedby': 'iv-help' });
  const modeSel = h('select', { id: 'iv-mode', 'aria-label': 'Mode for the typed intervention' }, (['off', 'on'] as const).map((m) => h('option', { value: m }, MODE_LABEL[m])));
  const error = fieldError(input, 'iv-error');
  const form = h(
    'form',
    { class: 'row iv-form', novalidate: true },
    h('label', { for: 'iv-spec' }, 'Add'),
    input,
    modeSel,
    h('button', { type: 'submit' }, 'Add'),
  );
  const help = h(
    'p',
    { id: 'iv-help', class: 'small muted' },
    'Type a sub-update, e.g. L12D34 (the mode comes from the menu) or L12D34:set=3@0,2 (at positions 0 and 2 only), or an attention head, e.g. L3H5:off or L3H5:scale=0.5 (its output switched off or scaled). ',
    h('strong', null, 'off'),
    ' sets its coefficient m to 0 at every position. ',
    h('strong', null, 'on'),
    ' is LM-Debugger’s switch: it sets the neuron’s c_fc output (before GELU) to S* + 0.01, where S* is the layer’s largest |m|·‖v‖ at the last position of the clean run, so m becomes about S* + 0.01; a coefficient that was already larger is lowered. Changes re-trace automatically.',
  );
  const list = h('ul', { class: 'iv-list', 'aria-label': 'Interventions' });
  const footer = h('div', { class: 'row small' });
  replace(el, form, error.el, help, list, footer);

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    let why: string | null;
    try {
      const iv = readSpec(withMode(text, modeSel.value));
      // Positions are checked against the prompt as it is now (tokenized by the model).
      const tokens = iv.positions && app.dbg && app.prompt.trim() ? (await app.tokens()).length : undefined;
      why = app.checkIntervention(iv, tokens) ?? app.addIntervention(iv);
    } catch (err) {
      why = (err as Error).message.replace(/^intervention: /, '');
    }
    error.show(why && `${why.charAt(0).toUpperCase()}${why.slice(1)}`);
    if (why) input.focus();
    else input.value = '';
  });

  const render = () => {
    const ivs = app.interventions;
    if (!ivs.length) {
      replace(list, h('li', { class: 'muted small empty' }, 'No interventions. Add one above, or with Off/On on any sub-update or head.'));
      replace(footer);
      return;
    }
    const T = app.trace?.tokens.length;
    replace(
      list,
      ivs.map((iv, i) => {
        const name = targetName(iv);
        const isHead = iv.head !== undefined;
        const label = isHead ? undefined : app.names.get(name);
        const id = `iv-${i}`;
        const modes = isHead ? HEAD_MODES : MODES;
        const mode = h('select', { id: `${id}-mode`, 'aria-label': `Mode of ${name}` }, modes.map((m) => h('option', { value: m, props: { selected: m === iv.mode } }, (isHead ? HEAD_MODE_LABEL[m] : undefined) ?? MODE_LABEL[m])));
        mode.addEventListener('change', () => {
          const m = mode.value as InterventionMode;
          app.updateIntervention(i, { mode: m, value: takesValue(m) ? (iv.value ?? (m === 'scale' ? 2 : 5)) : undefined });
        });
        const value = h('input', { id: `${id}-value`, type: 'text', inputmode: 'decimal', class: 'num-input', 'aria-label': `Value for ${name}`, props: { value: String(iv.value ?? ''), hidden: !takesValue(iv.mode) } });
        const valueError = fieldError(value, `${id}-value-error`, 'span');
        value.addEventListener('change', () => {
          const typed = value.value.trim();
          // The package's parser says what is wrong with the value, as for a typed spec.
          try {
            const v = readSpec(`${name}:${iv.mode}=${typed}`).value;
            app.updateIntervention(i, { value: v });
          } catch (err) {
            valueError.show((err as Error).message.replace(/^intervention: /, '').replace(/^./, (c) => c.toUpperCase()));
          }
        });
        const active = h('input', { id: `${id}-active`, type: 'checkbox', props: { checked: iv.active } });
        active.addEventListener('change', () => app.updateIntervention(i, { active: active.checked }));
        const past = T !== undefined ? iv.positions?.filter((p) => p >= T) ?? [] : [];
        return h(
          'li',
          { class: ['iv', !iv.active && 'inactive'], 'data-spec': specOf(iv) },
          h('label', { class: 'iv-active', for: `${id}-active`, title: 'Apply this intervention' }, active, h('span', { class: 'sr-only' }, `Apply ${name}`)),
          h(
            'button',
            { type: 'button', class: 'link iv-name', title: isHead ? `Show layer ${iv.layer} in full` : 'Open its details', on: { click: () => (iv.head !== undefined ? app.selectLayer(iv.layer) : app.openDetail(iv.layer, iv.index)) } },
            name,
            label ? h('span', { class: 'muted' }, ` ${label}`) : null,
          ),
          mode,
          value,
          iv.positions?.length ? h('span', { class: 'small muted' }, `@${iv.positions.join(',')}`) : null,
          h('button', { type: 'button', class: 'small icon', 'aria-label': `Remove ${name}`, on: { click: () => app.removeIntervention(i) } }, '×'),
          valueError.el,
          past.length ? h('span', { class: 'field-error iv-note' }, `Position${past.length > 1 ? 's' : ''} ${past.join(', ')} ${past.length > 1 ? 'are' : 'is'} past the end of this ${T}-token prompt: not applied to it (only to generated tokens).`) : null,
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
  app.on('trace', () => {
    if (app.interventions.some((iv) => iv.positions?.length)) render();
  });
  render();
}
