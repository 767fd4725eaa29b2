// Generates docs/api.md from the hand-written public types (js/types/index.d.ts) with the TypeScript
// compiler API. `node js/scripts/api-doc.mjs` writes it; `--check` exits 1 when docs/api.md differs
// (tests/js/docs.test.js runs the same check).
import ts from 'typescript';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const DTS = path.join(root, 'js/types/index.d.ts');
export const API_MD = path.join(root, 'docs/api.md');

const clean = (s) => (s ?? '').replace(/\r/g, '');
const oneLine = (s) => clean(s).replace(/\s*\n\s*/g, ' ').trim();
const cell = (s) => s.replace(/\|/g, '\\|');

/** JSDoc text of a node ('' when none); the last comment when several precede it. */
function docOf(node) {
  const docs = node.jsDoc ?? [];
  const d = docs.at(-1);
  if (!d) return '';
  return typeof d.comment === 'string' ? clean(d.comment) : ts.getTextOfJSDocComment(d.comment) ?? '';
}

/** Comment text as markdown: lines indented by 2+ spaces become a code block. */
function prose(text) {
  const out = [];
  let code = null;
  for (const line of clean(text).split('\n')) {
    if (/^ {2,}\S/.test(line) && !/^ {2,}[-*] /.test(line)) {
      code ??= [];
      code.push(line.replace(/^ {2}/, ''));
      continue;
    }
    if (code) {
      out.push('```js', ...code, '```');
      code = null;
    }
    out.push(line);
  }
  if (code) out.push('```js', ...code, '```');
  return out.join('\n').trim();
}

function signature(node, sf) {
  // The declaration without its JSDoc and without `export declare`.
  return node.getText(sf).replace(/^export\s+/, '').replace(/^declare\s+/, '').trim();
}

function memberRows(members, sf) {
  const rows = [];
  for (const m of members) {
    if (ts.isPropertySignature(m) || ts.isPropertyDeclaration(m)) {
      const name = m.name.getText(sf) + (m.questionToken ? '?' : '');
      const ro = m.modifiers?.some((x) => x.kind === ts.SyntaxKind.ReadonlyKeyword) ? 'readonly ' : '';
      rows.push(`| \`${ro}${name}\` | \`${cell(oneLine(m.type?.getText(sf) ?? 'unknown'))}\` | ${cell(oneLine(docOf(m)))} |`);
    }
  }
  return rows.length ? ['| Property | Type | Description |', '|---|---|---|', ...rows] : [];
}

function methodList(members, sf, prefix) {
  const out = [];
  for (const m of members) {
    if (!(ts.isMethodSignature(m) || ts.isMethodDeclaration(m))) continue;
    if (m.modifiers?.some((x) => x.kind === ts.SyntaxKind.PrivateKeyword)) continue;
    const isStatic = m.modifiers?.some((x) => x.kind === ts.SyntaxKind.StaticKeyword);
    const text = m.getText(sf).replace(/^static\s+/, '').replace(/;$/, '');
    out.push(`#### \`${isStatic ? 'static ' : prefix}${m.name.getText(sf)}()\``, '', '```ts', text, '```', '');
    const d = docOf(m);
    if (d) out.push(prose(d), '');
  }
  return out;
}

export function renderApi(source = readFileSync(DTS, 'utf8')) {
  const sf = ts.createSourceFile('index.d.ts', source, ts.ScriptTarget.Latest, true);
  const first = sf.statements[0];
  const intro = first?.jsDoc?.length > 1 ? prose(typeof first.jsDoc[0].comment === 'string' ? first.jsDoc[0].comment : '') : '';
  const sections = { functions: [], classes: [], interfaces: [], types: [] };
  const classes = new Set(sf.statements.filter(ts.isClassDeclaration).map((c) => c.name?.getText(sf)));
  for (const st of sf.statements) {
    const name = ts.isVariableStatement(st) ? st.declarationList.declarations[0]?.name.getText(sf) : st.name?.getText(sf);
    if (!name) continue;
    const d = docOf(st);
    const body = [];
    if (ts.isVariableStatement(st)) {
      body.push(`### \`${name}\``, '', '```ts', signature(st, sf), '```', '');
      if (d) body.push(prose(d), '');
      sections.functions.push(body);
    } else if (ts.isFunctionDeclaration(st)) {
      body.push(`### \`${name}()\``, '', '```ts', signature(st, sf), '```', '');
      if (d) body.push(prose(d), '');
      sections.functions.push(body);
    } else if (ts.isClassDeclaration(st)) {
      body.push(`### \`class ${name}\``, '');
      if (d) body.push(prose(d), '');
      body.push(`An instance of \`${name}\` has the methods of [\`Debugger\`](#interface-debugger).`, '');
      body.push(...methodList(st.members.filter((m) => m.modifiers?.some((x) => x.kind === ts.SyntaxKind.StaticKeyword)), sf, ''));
      sections.classes.push(body);
    } else if (ts.isInterfaceDeclaration(st)) {
      if (classes.has(name)) continue;  // merged into its class (the instance type)
      const ext = st.heritageClauses ? ' ' + st.heritageClauses.map((h) => h.getText(sf)).join(' ') : '';
      body.push(`### \`interface ${name}\`${ext ? ` (${ext.trim()})` : ''}`, '');
      if (d) body.push(prose(d), '');
      const rows = memberRows(st.members, sf);
      if (rows.length) body.push(...rows, '');
      body.push(...methodList(st.members, sf, name === 'Debugger' ? 'dbg.' : ''));
      (name === 'Debugger' ? sections.classes : sections.interfaces).push(body);
    } else if (ts.isTypeAliasDeclaration(st)) {
      body.push(`### \`type ${name}\``, '', '```ts', signature(st, sf).replace(/^type /, 'type '), '```', '');
      if (d) body.push(prose(d), '');
      sections.types.push(body);
    } else continue;
  }
  sections.classes.sort((a, b) => (a[0].includes('class ') ? -1 : 0) - (b[0].includes('class ') ? -1 : 0));
  const out = [
    '# lmdbg API reference',
    '',
    '<!-- Generated from js/types/index.d.ts by `npm run docs:api`. Do not edit: tests/js/docs.test.js fails when it drifts. -->',
    '',
  ];
  if (intro) out.push(intro, '');
  const parts = [
    ['Loading and the debugger', sections.classes],
    ['Functions and constants', sections.functions],
    ['Interfaces', sections.interfaces],
    ['Types', sections.types],
  ];
  out.push('## Contents', '');
  for (const [title, list] of parts) {
    out.push(`- ${title}: ` + list.map((b) => {
      const h = b[0].replace(/^### /, '').replace(/`/g, '');
      const anchor = h.toLowerCase().replace(/[^a-z0-9 -]/g, '').trim().replace(/ /g, '-');
      return `[${h.replace(/^(class|interface|type) /, '')}](#${anchor})`;
    }).join(', '));
  }
  out.push('');
  for (const [title, list] of parts) {
    out.push(`## ${title}`, '');
    for (const b of list) out.push(...b);
  }
  return out.join('\n').replace(/\n{3,}/g, '\n\n').trimEnd() + '\n';
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const md = renderApi();
  if (process.argv.includes('--check')) {
    let cur = '';
    try {
      cur = readFileSync(API_MD, 'utf8');
    } catch {}
    if (cur !== md) {
      console.error('docs/api.md is out of date with js/types/index.d.ts: run `npm run docs:api`');
      process.exit(1);
    }
    console.log('docs/api.md is up to date');
  } else {
    writeFileSync(API_MD, md);
    console.log(`wrote ${path.relative(root, API_MD)} (${md.length} bytes)`);
  }
}
