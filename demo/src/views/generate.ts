// Generation with the active interventions, streamed token by token (and, optionally, the clean model's
// continuation after it, for comparison). Stop cancels through the AbortSignal.
import type { GenerateOptions } from 'lmdbg';
import type { App } from '../app';
import { toast } from '../busy';
import { $, fieldError, h, replace } from '../dom';

export function generateView(app: App): void {
  const el = $('#generate', app.root);
  const n = h('input', { id: 'gen-n', type: 'number', min: '1', max: '200', step: '1', props: { value: '20' }, class: 'num-input' });
  const sample = h('input', { id: 'gen-sample', type: 'checkbox' });
  const temp = h('input', { id: 'gen-temp', type: 'number', min: '0.05', max: '5', step: '0.05', props: { value: '0.8' }, class: 'num-input' });
  const seed = h('input', { id: 'gen-seed', type: 'text', inputmode: 'numeric', props: { value: '1' }, class: 'num-input', 'aria-describedby': 'gen-seed-help' });
  const reseed = h('button', { type: 'button', class: 'small', 'aria-label': 'A new random seed' }, 'New seed');
  reseed.addEventListener('click', () => {
    seed.value = String(crypto.getRandomValues(new Uint32Array(1))[0]! % 1_000_000);
    seedError.show(null);
  });
  const seedError = fieldError(seed, 'gen-seed-error');
  const tempError = fieldError(temp, 'gen-temp-error');
  const compare = h('input', { id: 'gen-compare', type: 'checkbox', props: { checked: true } });
  const go = h('button', { type: 'submit', class: 'primary', id: 'gen-go' }, 'Generate');
  const stop = h('button', { type: 'button', id: 'gen-stop', props: { disabled: true } }, 'Stop');
  const out = h('div', { class: 'gen-out', id: 'gen-out', 'aria-live': 'off' });
  const form = h(
    'form',
    { class: 'gen-form' },
    h('div', { class: 'row small' }, h('label', { for: 'gen-n' }, 'New tokens '), n),
    h('div', { class: 'row small' }, h('label', null, sample, ' Sample'), h('label', { for: 'gen-temp' }, ' at temperature '), temp, h('span', { class: 'muted' }, ' (else greedy)')),
    tempError.el,
    h('div', { class: 'row small' }, h('label', { for: 'gen-seed' }, 'Seed '), seed, reseed, h('span', { id: 'gen-seed-help', class: 'muted' }, 'the same seed samples the same tokens')),
    seedError.el,
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
    const task = app.busy.start(`Generating (${label.split(' · ')[0]!.toLowerCase()})`, () => ac?.abort());
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
    let sampling: GenerateOptions['sampling'] = 'greedy';
    if (sample.checked) {
      const t = Number(temp.value);
      const sd = seed.value.trim();
      const tWhy = Number.isFinite(t) && t > 0 && t <= 5 ? null : `The temperature must be a number above 0 and at most 5 (not "${temp.value.slice(0, 12)}").`;
      const sWhy = /^\d{1,10}$/.test(sd) && Number(sd) <= 0xffffffff ? null : `The seed must be a whole number from 0 to 4294967295 (not "${sd.slice(0, 12)}").`;
      tempError.show(tWhy);
      seedError.show(sWhy);
      if (tWhy || sWhy) return;
      sampling = { temperature: t, topK: 40, seed: Number(sd) };
    }
    const interventions = app.activeInterventions();
    ac = new AbortController();
    go.disabled = true;
    stop.disabled = false;
    replace(out);
    try {
      const ids = await app.tokens();
      const how = sampling === 'greedy' ? 'greedy' : `sampled at temperature ${sampling.temperature}, seed ${sampling.seed}`;
      const ok = await stream(`${interventions.length ? `Run with ${interventions.length} intervention${interventions.length > 1 ? 's' : ''}` : 'Clean run'} · ${how}`, { maxNewTokens, interventions, sampling, signal: ac.signal }, ids, 'intervened');
      if (ok && interventions.length && compare.checked) await stream(`Clean run · ${how}`, { maxNewTokens, sampling, signal: ac.signal }, ids, 'clean');
    } catch (err) {
      toast((err as Error).message);
    } finally {
      go.disabled = false;
      stop.disabled = true;
      ac = null;
    }
  });
}
