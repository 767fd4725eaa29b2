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

/** Characters shown of a long token or name; longer ones end in "…" and show in full on hover and focus. */
export const SHOWN_CHARS = 16;

/** `text` as shown in a fixed place: whole up to SHOWN_CHARS characters, else cut with "…". */
export function shortText(text: string, max = SHOWN_CHARS): { shown: string; long: boolean } {
  const chars = [...text];
  return chars.length <= max ? { shown: text, long: false } : { shown: `${chars.slice(0, max - 1).join('')}…`, long: true };
}

/**
 * Attributes that make a shortened text readable in full: the title (hover), and focus from the keyboard,
 * which shows the page's tooltip (see tooltips()).
 */
export function fullTextAttrs(full: string, title: string): Attrs {
  return { title, tabindex: '0', 'data-full': full, 'aria-label': title };
}

/** A token chip: always as wide as its text; very long tokens are shortened and readable in full on hover and focus. */
export function tokenEl(t: { id: number; text: string }, extra: Attrs = {}): HTMLSpanElement {
  const label = tokenLabel(t.text);
  const { shown, long } = shortText(label);
  const title = (extra.title as string | undefined) ?? `${JSON.stringify(t.text)} (id ${t.id})`;
  const cls = ['tok', long && 'long', ...(Array.isArray(extra.class) ? extra.class : [extra.class])].filter((c) => c && c !== 'tok');
  // data-tok-*: the token itself, for the actions any chip offers (tokmenu.ts).
  return h('span', { ...extra, title, class: ['tok', ...cls], 'data-tok-id': t.id, 'data-tok-text': t.text, ...(long ? fullTextAttrs(label, title) : {}) }, shown);
}

/**
 * The page's one tooltip: shows the full text of a shortened token or name ([data-full]) while it has the
 * keyboard focus (the mouse gets the title). Fixed-positioned, so that no scrolling or clipping box cuts it.
 */
export function tooltips(root: Document | ShadowRoot = document): void {
  const tip = h('div', { id: 'tip', class: 'tip', role: 'tooltip', hidden: true });
  (root instanceof Document ? root.body : root).append(tip);
  const hide = () => {
    tip.hidden = true;
  };
  root.addEventListener('focusin', (ev) => {
    const e = ev as FocusEvent;
    const el = e.target instanceof HTMLElement ? e.target.closest<HTMLElement>('[data-full]') : null;
    if (!el) return hide();
    tip.textContent = el.dataset.full ?? '';
    tip.hidden = false;
    const r = el.getBoundingClientRect();
    const w = tip.offsetWidth;
    tip.style.setProperty('left', `${Math.max(4, Math.min(r.left, window.innerWidth - w - 4))}px`);
    tip.style.setProperty('top', `${r.bottom + 4 + tip.offsetHeight > window.innerHeight ? r.top - tip.offsetHeight - 4 : r.bottom + 4}px`);
  });
  root.addEventListener('focusout', hide);
  window.addEventListener('scroll', hide, { passive: true });
}

/**
 * Keeps a one-line list of chips inside its box: chips that do not fit whole are hidden (never cut) and a
 * "+n" marker names them. Re-fits when the box changes size.
 */
const fittedWidth = new WeakMap<HTMLElement, number>();
const fitObserver =
  typeof ResizeObserver === 'undefined'
    ? null
    : new ResizeObserver((es) => {
        for (const e of es) {
          const el = e.target as HTMLElement;
          if (fittedWidth.get(el) !== el.clientWidth) fit(el);
        }
      });
/** `el` must be a block-level flex box (its width does not depend on the chips), e.g. class "fit". */
export function fit(el: HTMLElement): HTMLElement {
  if (!fittedWidth.has(el)) fitObserver?.observe(el);
  fittedWidth.set(el, el.clientWidth);
  el.querySelector(':scope > .more')?.remove();
  if (el.dataset.fitTitle) {
    el.removeAttribute('title');
    delete el.dataset.fitTitle;
  }
  const kids = Array.from(el.children) as HTMLElement[];
  for (const k of kids) k.hidden = false;
  if (!el.isConnected || el.scrollWidth <= el.clientWidth + 1) return el;
  const more = h('span', { class: 'more muted small' });
  el.append(more);
  const hidden: string[] = [];
  for (let i = kids.length - 1; i >= 1 && el.scrollWidth > el.clientWidth + 1; i--) {
    kids[i].hidden = true;
    hidden.unshift(kids[i].title || kids[i].textContent || '');
    more.textContent = `+${hidden.length}`;
    more.title = `Not shown here: ${hidden.join(', ')}`;
  }
  // No room for the count beside the first chip: the count goes, its title stays on the cell.
  if (el.scrollWidth > el.clientWidth + 1) {
    more.remove();
    el.title = more.title;
    el.dataset.fitTitle = '1';
  }
  return el;
}

/** Calls `draw` again when `el` changes width (charts are drawn at their own width, so their text keeps its size). */
export function redrawOnResize(el: HTMLElement, draw: () => void): void {
  if (typeof ResizeObserver === 'undefined') return;
  let width = el.clientWidth;
  new ResizeObserver(() => {
    if (el.clientWidth && el.clientWidth !== width) {
      width = el.clientWidth;
      draw();
    }
  }).observe(el);
}

/** Which run a view shows: the clean one, or the one with the trace's interventions. */
type Run = { interventions: unknown[]; options?: { patch?: { hook: string; layer: number; head?: number; positions: number[] } } };

/** What changed the shown run against the clean one: "the interventions", "the patch" or both. */
export function changeLabel(t: Run): string {
  const n = t.interventions.length;
  const iv = n ? `the intervention${n === 1 ? '' : 's'}` : '';
  return t.options?.patch ? (iv ? `${iv} and the patch` : 'the patch') : iv;
}

export function runLabel(t: Run | null): HTMLElement {
  const n = t?.interventions.length ?? 0;
  const p = t?.options?.patch;
  const parts = [n ? `${n} intervention${n === 1 ? '' : 's'}` : '', p ? `${p.head !== undefined ? `L${p.layer}H${p.head} result` : `${p.hook} L${p.layer}`} @${p.positions.join(',')} patched in` : ''].filter(Boolean);
  // Before a trace: an invisible placeholder of the same height, so that the first trace moves nothing.
  return h('span', { class: ['run-label', !t ? 'none' : parts.length ? 'intervened' : 'clean'] }, !t ? '\u00a0' : parts.length ? `run with ${parts.join(' and ')}` : 'clean run');
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

/** "45 s", "3 min 20 s", "1 h 5 min": a time left. */
export function duration(seconds: number): string {
  const s = Math.max(1, Math.ceil(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ''}`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** Announces a message to screen readers and shows it in the status line. */
export function announce(msg: string, root: Document | ShadowRoot = document): void {
  const el = root.getElementById('live');
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
      const panel = (list.getRootNode() as Document | ShadowRoot).getElementById(b.getAttribute('aria-controls') ?? '');
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

/**
 * An error shown next to the field where it was typed (not in a toast far away): announced (role=alert),
 * linked to the field (aria-invalid, aria-describedby), cleared when the user types again.
 */
export function fieldError(field: HTMLElement, id: string, tag: 'p' | 'span' = 'p'): { el: HTMLElement; show(msg: string | null): void } {
  const el = h(tag, { id, class: 'field-error', role: 'alert', hidden: true });
  const show = (msg: string | null) => {
    el.textContent = msg ?? '';
    el.hidden = !msg;
    field.setAttribute('aria-invalid', String(!!msg));
    const ids = (field.getAttribute('aria-describedby') ?? '').split(/\s+/).filter((x) => x && x !== id);
    const all = [...(msg ? [id] : []), ...ids];
    if (all.length) field.setAttribute('aria-describedby', all.join(' '));
    else field.removeAttribute('aria-describedby');
  };
  field.addEventListener('input', () => show(null));
  return { el, show };
}
