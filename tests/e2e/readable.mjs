// Readability, measured in the page: what a person sees, not what the DOM holds. For one region of the
// page, `problems()` lists
//   - token chips narrower than their text (scrollWidth > clientWidth), and long tokens shortened on
//     screen without their full text on hover (title) and keyboard focus (tabindex);
//   - text cut with an ellipsis (text-overflow) or clipped by an ancestor that hides its overflow
//     (overflow hidden/clip), horizontally or vertically, and text that runs out of its own box;
//   - children of a flex or grid container that overlap each other;
//   - a <select> whose chosen option does not fit its box;
//   - a tab row whose tabs do not all fit (the last ones hidden off the side);
// and `headerCovered()` scrolls the page and samples the sticky header: whatever is drawn there must
// belong to it. Used by run.mjs at 1400 px, 390 px and in the 700x460 embed, in every view.
import path from 'node:path';
import { artifacts } from './lib.mjs';

const slug = (s) => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');

/**
 * Throws unless a region of the page is readable (problems()); keeps a screenshot of the region as
 * tests/artifacts/e2e/readable--SIZE--VIEW.png. `run`: the view must also say which run it shows.
 */
export async function expectReadable(page, size, view, sel, { run = null, shot = true } = {}) {
  const region = page.locator(sel).first();
  await region.scrollIntoViewIfNeeded();
  const found = await page.evaluate(problems, sel);
  // The sticky header is tested on its own (headerCovered); here it must not hide the top of the region.
  if (shot) await region.screenshot({ path: path.join(artifacts, `readable--${size}--${slug(view)}.png`), style: 'header { position: static !important; }' });
  if (found.length) throw new Error(`${found.length} problem(s):\n       ${found.slice(0, 12).join('\n       ')}`);
  if (run) {
    // The view says which run it shows.
    const labels = await page.locator(`${sel} .run-label`).allTextContents();
    if (!labels.length) throw new Error('no label saying which run it shows');
    const want = run === 'clean' ? /clean/i : /intervention/i;
    if (!labels.some((t) => want.test(t))) throw new Error(`says the ${run} run: ${JSON.stringify(labels)}`);
  }
}

/**
 * Runs in the page. `sel`: CSS selector of the region (for an <lm-debugger>, the figure in its shadow root).
 * Returns a list of problems (strings).
 */
export function problems(sel) {
  const roots = [...document.querySelectorAll(sel)].map((e) => e.shadowRoot?.firstElementChild ?? e);
  if (!roots.length) return [`no element matches ${sel}`];
  const out = [];
  const seen = new Set();
  const say = (el, what) => {
    const key = `${what}|${describe(el)}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(`${what}: ${describe(el)}`);
    }
  };
  function describe(el) {
    const cls = typeof el.className === 'string' && el.className.trim() ? `.${el.className.trim().split(/\s+/).join('.')}` : '';
    const text = (el.textContent ?? '').replace(/\s+/g, ' ').trim();
    return `<${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}${cls}> ${JSON.stringify(text.length > 48 ? `${text.slice(0, 48)}...` : text)}`;
  }
  function shown(el) {
    if (el.closest('[hidden], .sr-only, .ghost')) return false;
    const d = el.closest('details:not([open])');
    if (d && !el.closest('summary')) return false;
    for (let e = el; e; e = e.parentElement) {
      const cs = getComputedStyle(e);
      if (cs.display === 'none' || cs.visibility === 'hidden' || cs.opacity === '0') return false;
    }
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0;
  }
  // The rectangle of an element's own text (its direct text nodes), or null.
  function textRect(el) {
    let rect = null;
    for (const n of el.childNodes) {
      if (n.nodeType !== Node.TEXT_NODE || !n.textContent.trim()) continue;
      const range = document.createRange();
      range.selectNodeContents(n);
      const r = range.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) continue;
      rect = rect
        ? { left: Math.min(rect.left, r.left), right: Math.max(rect.right, r.right), top: Math.min(rect.top, r.top), bottom: Math.max(rect.bottom, r.bottom) }
        : { left: r.left, right: r.right, top: r.top, bottom: r.bottom };
    }
    return rect;
  }
  // The box an element clips its content to (padding box), in viewport coordinates.
  function clipBox(el) {
    const r = el.getBoundingClientRect();
    const cs = getComputedStyle(el);
    return {
      left: r.left + parseFloat(cs.borderLeftWidth),
      right: r.right - parseFloat(cs.borderRightWidth),
      top: r.top + parseFloat(cs.borderTopWidth),
      bottom: r.bottom - parseFloat(cs.borderBottomWidth),
    };
  }
  const hides = (v) => v === 'hidden' || v === 'clip';
  const TOL = 1.5;

  for (const root of roots) {
    if (!shown(root)) {
      out.push(`region ${sel} is not shown`);
      continue;
    }
    const all = [root, ...root.querySelectorAll('*')];
    for (const el of all) {
      if (el instanceof SVGElement && !(el instanceof SVGSVGElement)) continue;
      // A chart drawn wider than the box it sits in (unless that box scrolls): its edge is cut or overlaps.
      if (el instanceof SVGSVGElement && el.parentElement && shown(el)) {
        const box = el.parentElement.getBoundingClientRect();
        const r = el.getBoundingClientRect();
        const pcs = getComputedStyle(el.parentElement);
        if (!/auto|scroll/.test(pcs.overflowX) && (r.right > box.right + TOL || r.left < box.left - TOL))
          say(el, `chart wider than its box (${Math.round(r.width)} px in ${Math.round(box.width)} px)`);
      }
      if (!shown(el)) continue;
      const cs = getComputedStyle(el);
      // A tab row wider than its box: the last tabs are out of sight, reachable only by scrolling it sideways.
      if (el.getAttribute('role') === 'tablist' && el.scrollWidth > el.clientWidth + 1) say(el, `tabs run off the side (${el.clientWidth} < ${el.scrollWidth} px)`);
      // Token chips: their whole text, and the full text of shortened long tokens on hover and focus.
      if (el.classList.contains('tok')) {
        if (el.scrollWidth > el.clientWidth + 1) say(el, `token chip narrower than its text (${el.clientWidth} < ${el.scrollWidth} px)`);
        if (el.dataset.full !== undefined && !(el.title && el.tabIndex >= 0)) say(el, 'a shortened long token without its full text on hover and focus');
      }
      const rect = textRect(el);
      if (!rect) {
        // The width of a one-line text in el's font.
        const widthOf = (text) => {
          const probe = document.createElement('span');
          probe.textContent = text;
          probe.style.font = cs.font;
          probe.style.whiteSpace = 'pre';
          probe.style.position = 'absolute';
          probe.style.visibility = 'hidden';
          document.body.append(probe);
          const w = probe.getBoundingClientRect().width;
          probe.remove();
          return w;
        };
        const room = el.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
        if (el.tagName === 'SELECT' && el.selectedOptions.length) {
          // A closed <select> shows its chosen option (16 px: the arrow).
          const need = widthOf(el.selectedOptions[0].textContent);
          if (need > room - 16 + TOL) say(el, `select shows its choice cut (${Math.round(room - 16)} < ${Math.round(need)} px)`);
        } else if (el.tagName === 'INPUT' && el.placeholder && !el.value) {
          // An empty one-line field shows its placeholder, the example of what to type: whole, or it misleads.
          const need = widthOf(el.placeholder);
          if (need > room + TOL) say(el, `placeholder cut (${Math.round(room)} < ${Math.round(need)} px): ${JSON.stringify(el.placeholder)}`);
        }
        continue;
      }
      // Text cut by the element's own box.
      if (cs.textOverflow === 'ellipsis' && el.scrollWidth > el.clientWidth + 1) say(el, 'text cut with an ellipsis');
      else if (hides(cs.overflowX) && el.scrollWidth > el.clientWidth + 1) say(el, `text clipped horizontally (${el.clientWidth} < ${el.scrollWidth} px)`);
      if (hides(cs.overflowY) && el.scrollHeight > el.clientHeight + 1) say(el, `text clipped vertically (${el.clientHeight} < ${el.scrollHeight} px)`);
      // Text that runs out of its own box or an enclosing one (into the neighbours).
      // (A box that scrolls or clips is handled above: its content may extend past it.)
      for (let a = el; a && a !== root.parentElement; a = a.parentElement) {
        const acs = getComputedStyle(a);
        if (acs.overflowX !== 'visible' || acs.overflowY !== 'visible') break;
        if (acs.display.startsWith('inline') || acs.display === 'contents' || (acs.display.startsWith('table') && a !== el)) continue;
        if (acs.position === 'absolute' || acs.position === 'fixed') break;
        const box = a.getBoundingClientRect();
        const side = rect.right > box.right + TOL || rect.left < box.left - TOL;
        const tall = rect.bottom > box.bottom + TOL || rect.top < box.top - TOL;
        if (side || tall) {
          say(el, `text runs out of ${a === el ? 'its box' : describe(a).split('>')[0] + '>'} ${side ? 'sideways' : `(${Math.round(rect.bottom - rect.top)} px of text, ${Math.round(box.height)} px of box)`}`);
          break;
        }
      }
      // Text clipped by an ancestor that hides its overflow (scroll containers are fine: it can be scrolled to).
      for (let a = el.parentElement; a && a !== document.documentElement; a = a.parentElement) {
        const acs = getComputedStyle(a);
        if (!hides(acs.overflowX) && !hides(acs.overflowY)) continue;
        const b = clipBox(a);
        const cutX = hides(acs.overflowX) && (rect.left < b.left - TOL || rect.right > b.right + TOL);
        const cutY = hides(acs.overflowY) && (rect.top < b.top - TOL || rect.bottom > b.bottom + TOL);
        if (cutX || cutY) {
          say(el, `text clipped by ${describe(a).split('>')[0]}> (${cutX ? 'sideways' : 'top/bottom'})`);
          break;
        }
      }
    }
    // Overlapping children of flex and grid containers (columns that run into each other).
    for (const el of all) {
      if (!shown(el)) continue;
      const d = getComputedStyle(el).display;
      if (!/flex|grid/.test(d)) continue;
      const kids = [...el.children].filter((k) => shown(k) && getComputedStyle(k).position !== 'absolute');
      const rects = kids.map((k) => k.getBoundingClientRect());
      for (let i = 0; i < kids.length; i++)
        for (let j = i + 1; j < kids.length; j++) {
          const a = rects[i], b = rects[j];
          const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
          const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
          if (w > 2 && h > 2) say(kids[j], `overlaps ${describe(kids[i]).split('>')[0]}> in ${describe(el).split('>')[0]}>`);
        }
    }
  }
  return out;
}

/**
 * Runs in the page. Scrolls through the whole page; at each stop, every point sampled in a sticky or
 * fixed header must show the header itself. Returns the problems found and puts the scroll back.
 */
export async function headerCovered(headerSel) {
  const header = document.querySelector(headerSel);
  if (!header) return [];
  const pos = getComputedStyle(header).position;
  if (pos !== 'sticky' && pos !== 'fixed') return [];
  const out = [];
  const y0 = scrollY;
  const max = document.documentElement.scrollHeight - innerHeight;
  for (let y = 0; y <= max + 1; y += Math.max(80, Math.floor(innerHeight / 3))) {
    scrollTo(0, y);
    await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    const r = header.getBoundingClientRect();
    for (let x = r.left + 4; x < r.right - 4; x += 24)
      for (const fy of [0.15, 0.5, 0.85]) {
        const py = r.top + fy * r.height;
        if (py < 0 || py > innerHeight) continue;
        const hit = document.elementFromPoint(x, py);
        if (hit && !header.contains(hit) && !hit.closest('#toast')) {
          const d = `${hit.tagName.toLowerCase()}${hit.className && typeof hit.className === 'string' ? `.${hit.className.trim().split(/\s+/).join('.')}` : ''}`;
          const msg = `the header is covered by <${d}> at scroll ${y}`;
          if (!out.includes(msg)) out.push(msg);
        }
      }
  }
  scrollTo(0, y0);
  return out;
}
