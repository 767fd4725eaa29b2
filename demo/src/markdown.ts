// A model card (README.md) as readable text: headings, paragraphs (hard-wrapped lines joined), lists,
// tables, code blocks and inline code, emphasis and links. Built from DOM nodes: markup in the file stays
// text (nothing is parsed as HTML), and only http(s) links become links.
import { h, type Child } from './dom';

/** Inline markdown -> nodes: `code` (any backtick run), **strong**, *em* / _em_, [text](http...). */
export function inline(text: string): Child[] {
  const out: Child[] = [];
  let buf = '';
  const flush = () => {
    if (buf) out.push(buf);
    buf = '';
  };
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '`') {
      const run = /^`+/.exec(text.slice(i))![0];
      const end = text.indexOf(run, i + run.length);
      // A closing run of the same length, not part of a longer run.
      if (end > 0 && text[end + run.length] !== '`') {
        flush();
        let code = text.slice(i + run.length, end);
        if (/^ .* $/.test(code) && code.trim()) code = code.slice(1, -1);
        out.push(h('code', null, code));
        i = end + run.length;
        continue;
      }
      buf += run;
      i += run.length;
      continue;
    }
    if (c === '*' && text[i + 1] === '*') {
      const end = text.indexOf('**', i + 2);
      if (end > i + 2) {
        flush();
        out.push(h('strong', null, inline(text.slice(i + 2, end))));
        i = end + 2;
        continue;
      }
    }
    if ((c === '*' || c === '_') && text[i + 1] && text[i + 1] !== ' ' && !/\w/.test(text[i - 1] ?? '')) {
      const end = text.indexOf(c, i + 1);
      if (end > i + 1 && text[end - 1] !== ' ' && !/\w/.test(text[end + 1] ?? '')) {
        flush();
        out.push(h('em', null, inline(text.slice(i + 1, end))));
        i = end + 1;
        continue;
      }
    }
    if (c === '[') {
      const m = /^\[([^\]]+)\]\(((?:[^()\s]|\([^()\s]*\))+)\)/.exec(text.slice(i)); // one level of () in the URL
      if (m) {
        flush();
        out.push(/^https?:\/\//i.test(m[2]!) ? h('a', { href: m[2], rel: 'noopener noreferrer', target: '_blank' }, inline(m[1]!)) : inline(m[1]!));
        i += m[0].length;
        continue;
      }
    }
    buf += c;
    i++;
  }
  flush();
  return out;
}

const cells = (line: string) => line.trim().replace(/^\||\|$/g, '').split('|').map((c) => c.trim());

/** Block-level markdown -> elements. Headings start at `<h{top}>` ("#" is the card's top heading). */
export function renderMarkdown(md: string, top = 3): HTMLElement[] {
  const lines = md.replace(/\r\n?/g, '\n').split('\n');
  const out: HTMLElement[] = [];
  let para: string[] = [];
  const endPara = () => {
    if (para.length) out.push(h('p', null, inline(para.join(' '))));
    para = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const fence = /^\s*(```+|~~~+)/.exec(line);
    if (fence) {
      endPara();
      const code: string[] = [];
      for (i++; i < lines.length && !lines[i]!.trim().startsWith(fence[1]!); i++) code.push(lines[i]!);
      out.push(h('pre', null, h('code', null, code.join('\n'))));
      continue;
    }
    const head = /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
    if (head) {
      endPara();
      const level = Math.min(6, top + head[1]!.length - 1) as 3 | 4 | 5 | 6;
      out.push(h(`h${level}`, null, inline(head[2]!)));
      continue;
    }
    if (/^\s*\|/.test(line) && /^\s*\|?\s*:?-{3,}/.test(lines[i + 1] ?? '')) {
      endPara();
      const header = cells(line);
      const rows: string[][] = [];
      for (i += 2; i < lines.length && /^\s*\|/.test(lines[i]!); i++) rows.push(cells(lines[i]!));
      i--;
      out.push(
        h(
          'div',
          { class: 'scroll-x' },
          h('table', { class: 'md-table' }, h('thead', null, h('tr', null, header.map((c) => h('th', { scope: 'col' }, inline(c))))), h('tbody', null, rows.map((r) => h('tr', null, r.map((c) => h('td', null, inline(c))))))),
        ),
      );
      continue;
    }
    const item = /^(\s*)([-*+]|\d+[.)])\s+(.*)$/.exec(line);
    if (item) {
      endPara();
      const ordered = /\d/.test(item[2]!);
      const items: string[] = [];
      for (; i < lines.length; i++) {
        const m = /^(\s*)([-*+]|\d+[.)])\s+(.*)$/.exec(lines[i]!);
        if (m && /\d/.test(m[2]!) === ordered) items.push(m[3]!);
        else if (items.length && /^\s+\S/.test(lines[i]!)) items[items.length - 1] += ` ${lines[i]!.trim()}`; // a wrapped item
        else break;
      }
      i--;
      out.push(h(ordered ? 'ol' : 'ul', null, items.map((t) => h('li', null, inline(t)))));
      continue;
    }
    if (!line.trim()) endPara();
    else para.push(line.trim());
  }
  endPara();
  return out;
}
