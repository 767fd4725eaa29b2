// Generation with the active interventions, streamed token by token (and, optionally, the clean model's
// continuation after it, for comparison). Stop cancels through the AbortSignal.
import type { GenerateOptions } from 'lmdbg';
import type { App } from '../app';
import { toast } from '../busy';
import { $, h, replace } from '../dom';

export function generateView(app: App): void {
  const el = $('#generate');
  const n = h('input', { id: 'gen-n', type: 'number', min: '1', max: '200', step: '1', props: { value: '20' }, class: 'num-input' });
  const sample = h('input', { id: 'gen-sample', type: 'checkbox' });
  const temp = h('input', { id: 'gen-temp', type: 'number', min: '0.05', max: '5', step: '0.05', props: { value: '0.8' }, class: 'num-input' });
  const compare = h('input', { id: 'gen-compare', type: 'checkbox', props: { checked: true } });
  const go = h('button', { type: 'submit', class: 'primary', id: 'gen-go' }, 'Generate');
  const stop = h('button', { type: 'button', id: 'gen-stop', props: { disabled: true } }, 'Stop');
  const out = h('div', { class: 'gen-out', id: 'gen-out', 'aria-live': 'off' });
  const form = h(
    'form',
    { class: 'gen-form' },
    h('div', { class: 'row small' }, h('label', { for: 'gen-n' }, 'New tokens '), n),
    h('div', { class: 'row small' }, h('label', null, sample, ' Sample'), h('label', { for: 'gen-temp' }, ' at temperature '), temp, h('span', { class: 'muted' }, ' (else greedy)')),
    h('div', { class: 'row small' }, h('label', null, compare, ' also the clean model, for comparison')),
    h('div', { class: 'row' }, go, stop),
  );
  replace(el, form, out);

  let ac: AbortController | null = null;
  stop.addEventListener('click', () => ac?.abort());

  async function stream(label: string, opts: GenerateOptions, ids: number[], klass: string): Promise<boolean> {
    const text = h('span', { class: 'gen-new' });
    const block = h('div', { class: ['gen-block', klass] }, h('h4', null, label), h('p', { class: 'gen-text' }, h('span', { class: 'gen-prompt' }, app.prompt), text));
    out.append(block);
    const task = app.busy.start(`Generating (${label.toLowerCase()})`, () => ac?.abort());
    try {
      let count = 0;
      for await (const t of app.dbg!.generate(ids, opts)) {
        text.append(h('span', { class: 'gen-tok', title: `${JSON.stringify(t.text)} (id ${t.id})` }, t.text));
        count++;
        task.progress(count / (opts.maxNewTokens ?? 20), `${count} token${count === 1 ? '' : 's'}`);
      }
      return true;
    } catch (e) {
      if ((e as Error).name !== 'AbortError' && !ac?.signal.aborted) toast(`Generation failed: ${(e as Error).message}`);
      else text.append(h('span', { class: 'muted' }, ' [stopped]'));
      return false;
    } finally {
      task.end();
    }
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!app.dbg) return toast('Load a model first.', 'info');
    if (!app.prompt.trim()) return toast('Type a prompt first.', 'info');
    const maxNewTokens = Math.max(1, Math.min(200, Math.floor(Number(n.value)) || 20));
    const t = Number(temp.value);
    const sampling: GenerateOptions['sampling'] = sample.checked ? { temperature: Number.isFinite(t) && t > 0 ? Math.min(5, t) : 1, topK: 40, seed: 1 } : 'greedy';
    const interventions = app.activeInterventions();
    ac = new AbortController();
    go.disabled = true;
    stop.disabled = false;
    replace(out);
    try {
      const ids = await app.tokens();
      const ok = await stream(interventions.length ? `With ${interventions.length} intervention${interventions.length > 1 ? 's' : ''}` : 'Clean', { maxNewTokens, interventions, sampling, signal: ac.signal }, ids, 'intervened');
      if (ok && interventions.length && compare.checked) await stream('Clean', { maxNewTokens, sampling, signal: ac.signal }, ids, 'clean');
    } catch (err) {
      toast((err as Error).message);
    } finally {
      go.disabled = false;
      stop.disabled = true;
      ac = null;
    }
  });
}
