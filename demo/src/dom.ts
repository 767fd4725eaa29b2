// A tiny, dependency-free DOM builder. Strings always become Text nodes: nothing here (or anywhere in the
// demo) assigns innerHTML, so tokens such as "<img src=x onerror=...>" or "<|endoftext|>" stay text.

export type Child = Node | string | number | null | undefined | false | Child[];

type Handler = (ev: any) => void;
export interface Attrs {
  class?: string | (string | false | null | undefined)[];
  /** Event listeners: { click: fn }. String "on*" attributes are refused. */
  on?: Record<string, Handler>;
  /** DOM properties set directly (value, checked, disabled, hidden, ...). */
  props?: Record<string, unknown>;
  /** CSS custom properties or styles, set through the CSSOM (allowed under a strict CSP). */
  style?: Record<string, string>;
  [attr: string]: unknown;
}

function applyAttrs(el: Element, attrs: Attrs | null | undefined): void {
  if (!attrs) return;
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'on') {
      for (const [ev, fn] of Object.entries(v as Record<string, Handler>)) el.addEventListener(ev, fn);
    } else if (k === 'props') {
      Object.assign(el, v);
    } else if (k === 'style') {
      const st = (el as HTMLElement).style;
      for (const [p, val] of Object.entries(v as Record<string, string>)) st.setProperty(p, val);
    } else if (k === 'class') {
      const cls = Array.isArray(v) ? v.filter(Boolean).join(' ') : String(v);
      if (cls) el.setAttribute('class', cls);
    } else {
      if (/^on/i.test(k) || k === 'style' || k === 'srcdoc') throw new Error(`dom: attribute ${k} is not allowed`);
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
}

export function append(el: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  applyAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVGNS = 'http://www.w3.org/2000/svg';
export function s<K extends keyof SVGElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVGNS, tag);
  applyAttrs(el, attrs);
  append(el, children);
  return el;
}

/** Replaces the children of `el`. */
export function replace(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

export function $(sel: string, root: ParentNode = document): HTMLElement {
  const el = root.querySelector(sel);
  if (!el) throw new Error(`missing element ${sel}`);
  return el as HTMLElement;
}

/**
 * A token as displayed: visible markers for whitespace that would otherwise vanish. The exact text goes in
 * the title (as an escaped JSON string). Never markup.
 */
export function tokenLabel(text: string): string {
  if (text === '') return '∅';
  return text
    .replace(/\n/g, '↵')
    .replace(/\t/g, '⇥')
    .replace(/\r/g, '␍')
    .replace(/^ /, '␣')
    .replace(/ $/, '␣');
}

export function tokenEl(t: { id: number; text: string }, extra?: Attrs): HTMLSpanElement {
  return h('span', { class: 'tok', title: `${JSON.stringify(t.text)} (id ${t.id})`, ...extra }, tokenLabel(t.text));
}

export function fmt(x: number, digits = 3): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a !== 0 && (a < 1e-3 || a >= 1e4)) return x.toExponential(digits - 1);
  return x.toFixed(digits);
}

export function pct(p: number | undefined): string {
  if (p === undefined || !Number.isFinite(p)) return '';
  if (p >= 0.995) return '100%';
  if (p < 0.001) return '<0.1%';
  return `${(p * 100).toFixed(p < 0.1 ? 1 : 0)}%`;
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(2)} GB`;
}

/** Announces a message to screen readers and shows it in the status line. */
export function announce(msg: string): void {
  const el = document.getElementById('live');
  if (el) el.textContent = msg;
}

/** Roving-tabindex tabs: buttons[role=tab] inside a [role=tablist], panels referenced by aria-controls. */
export function tabs(list: HTMLElement, onChange?: (id: string) => void): (id: string) => void {
  const btns = Array.from(list.querySelectorAll<HTMLButtonElement>('[role=tab]'));
  const select = (id: string) => {
    for (const b of btns) {
      const on = b.dataset.tab === id;
      b.setAttribute('aria-selected', String(on));
      b.tabIndex = on ? 0 : -1;
      const panel = document.getElementById(b.getAttribute('aria-controls') ?? '');
      if (panel) panel.hidden = !on;
    }
    onChange?.(id);
  };
  for (const b of btns) {
    b.addEventListener('click', () => select(b.dataset.tab!));
    b.addEventListener('keydown', (e: KeyboardEvent) => {
      const i = btns.indexOf(b);
      let j = -1;
      if (e.key === 'ArrowRight') j = (i + 1) % btns.length;
      else if (e.key === 'ArrowLeft') j = (i - 1 + btns.length) % btns.length;
      else if (e.key === 'Home') j = 0;
      else if (e.key === 'End') j = btns.length - 1;
      if (j >= 0) {
        e.preventDefault();
        btns[j].focus();
        select(btns[j].dataset.tab!);
      }
    });
  }
  return select;
}
