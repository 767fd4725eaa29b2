// The busy bar: what the page is doing, its progress, and a Cancel button. It keeps its height whether busy
// or idle (visibility, not display), so nothing below it moves.

export interface Task {
  label(text: string): void;
  progress(fraction: number | null, detail?: string): void;
  end(): void;
  readonly cancelled: boolean;
}

interface TaskState {
  label: string;
  fraction: number | null;
  detail: string;
  cancel?: () => void;
  cancelled: boolean;
}

export class Busy {
  private tasks: TaskState[] = [];
  private labelEl: HTMLElement;
  private detailEl: HTMLElement;
  private progressEl: HTMLProgressElement;
  private cancelBtn: HTMLButtonElement;
  /** Elements whose aria-busy follows the bar (the result areas). */
  busyTargets: HTMLElement[] = [];

  constructor(private root: HTMLElement) {
    this.labelEl = root.querySelector('.busy-label')!;
    this.detailEl = root.querySelector('.busy-detail')!;
    this.progressEl = root.querySelector('progress')!;
    this.cancelBtn = root.querySelector('button')!;
    this.cancelBtn.addEventListener('click', () => this.cancelTop());
    root.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') this.cancelTop();
    });
    document.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && this.tasks.length && !(e.target instanceof HTMLInputElement || e.target instanceof HTMLTextAreaElement || e.target instanceof HTMLSelectElement)) this.cancelTop();
    });
    this.render();
  }

  get active(): boolean {
    return this.tasks.length > 0;
  }

  start(label: string, cancel?: () => void): Task {
    const st: TaskState = { label, fraction: null, detail: '', cancel, cancelled: false };
    this.tasks.push(st);
    this.render();
    const self = this;
    return {
      label(text: string) {
        st.label = text;
        self.render();
      },
      progress(fraction: number | null, detail = '') {
        st.fraction = fraction;
        st.detail = detail;
        self.render();
      },
      end() {
        const i = self.tasks.indexOf(st);
        if (i >= 0) self.tasks.splice(i, 1);
        self.render();
      },
      get cancelled() {
        return st.cancelled;
      },
    };
  }

  cancelTop(): void {
    for (let i = this.tasks.length - 1; i >= 0; i--) {
      const t = this.tasks[i];
      if (t.cancel && !t.cancelled) {
        t.cancelled = true;
        t.cancel();
        t.label += ' (cancelling…)';
        this.render();
        return;
      }
    }
  }

  private render(): void {
    const top = this.tasks[this.tasks.length - 1];
    this.root.classList.toggle('on', !!top);
    this.labelEl.textContent = top ? top.label : 'Ready';
    this.detailEl.textContent = top ? top.detail : '';
    if (top && top.fraction !== null) {
      this.progressEl.value = top.fraction;
      this.progressEl.classList.remove('indeterminate');
    } else {
      this.progressEl.removeAttribute('value');
      this.progressEl.classList.add('indeterminate');
    }
    const cancellable = this.tasks.some((t) => t.cancel && !t.cancelled);
    this.cancelBtn.disabled = !cancellable;
    this.root.setAttribute('aria-busy', String(!!top));
    for (const el of this.busyTargets) el.setAttribute('aria-busy', String(!!top));
  }
}

let toastTimer: number | undefined;
/** Shows a message (an error, usually) as text in the #toast of `root`; it stays 10 s or until closed. */
export function toast(message: string, kind: 'error' | 'info' = 'error', root: Document | ShadowRoot = document): void {
  const el = root.getElementById('toast');
  if (!el) return;
  el.replaceChildren();
  const text = document.createElement('span');
  text.textContent = message;
  const close = document.createElement('button');
  close.type = 'button';
  close.textContent = '×';
  close.setAttribute('aria-label', 'Dismiss');
  close.addEventListener('click', () => (el.hidden = true));
  el.append(text, close);
  el.className = `toast ${kind}`;
  el.hidden = false;
  window.clearTimeout(toastTimer);
  toastTimer = window.setTimeout(() => (el.hidden = true), 10000);
}
