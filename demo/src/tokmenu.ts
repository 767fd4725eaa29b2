// A small menu on any token chip of the page (prediction, logit lens, value-vector and head tokens, the
// prompt): actions that take that token, registered by the views (e.g. the attribution's "Explain").
// The chips stay plain text; keyboard users type the token where the action has a field.
import type { Token } from 'lmdbg';
import { h, replace, tokenLabel } from './dom';

export interface TokenAction {
  label: (t: Token) => string;
  /** Offered for this token (default: always). */
  when?: (t: Token) => boolean;
  run: (t: Token) => void;
}

const actions: TokenAction[] = [];
let menu: HTMLElement | null = null;
/** The chip the open menu belongs to: the menu follows it when the page scrolls. */
let anchor: HTMLElement | null = null;

export function addTokenAction(a: TokenAction): void {
  actions.push(a);
  install();
}

function close(): void {
  if (menu) menu.hidden = true;
  anchor = null;
}

function install(): void {
  if (menu) return;
  menu = h('div', { id: 'tok-menu', class: 'tok-menu', role: 'menu', hidden: true });
  document.body.append(menu);
  document.documentElement.classList.add('tok-actions');
  document.addEventListener('click', (e) => {
    const target = e.target instanceof Element ? e.target : null;
    if (target && menu!.contains(target)) return;
    const chip = target?.closest<HTMLElement>('.tok[data-tok-id]');
    // A chip inside a control (a button, a link, a form) belongs to that control.
    if (!chip || chip.closest('button, a, label, #tok-menu')) return close();
    const tok: Token = { id: Number(chip.dataset.tokId), text: chip.dataset.tokText ?? '' };
    anchor = chip;
    open(tok);
  });
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') close();
  });
  window.addEventListener(
    'scroll',
    () => {
      if (!anchor) return;
      const r = anchor.getBoundingClientRect();
      if (!anchor.isConnected || r.bottom < 0 || r.top > window.innerHeight) close();
      else place(r);
    },
    { passive: true },
  );
}

function open(t: Token): void {
  const m = menu!;
  replace(
    m,
    h('p', { class: 'tok-menu-head small muted' }, `“${tokenLabel(t.text)}” (id ${t.id})`),
    actions.filter((a) => a.when?.(t) ?? true).map((a) =>
      h('button', { type: 'button', role: 'menuitem', on: { click: () => (close(), a.run(t)) } }, a.label(t)),
    ),
  );
  m.hidden = false;
  place(anchor!.getBoundingClientRect());
  m.querySelector<HTMLButtonElement>('button')?.focus({ preventScroll: true });
}

/** Below the chip, or above it when there is no room below; within the window. */
function place(at: DOMRect): void {
  const m = menu!;
  const w = m.offsetWidth;
  const hgt = m.offsetHeight;
  m.style.setProperty('left', `${Math.max(4, Math.min(at.left, window.innerWidth - w - 4))}px`);
  m.style.setProperty('top', `${at.bottom + 4 + hgt > window.innerHeight ? Math.max(4, at.top - hgt - 4) : at.bottom + 4}px`);
}
