// docs/api.md is generated from the hand-written js/types/index.d.ts; this fails when they drift.
// README.md's example must type-check against the same declarations (see pack/).
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { renderApi, API_MD, DTS } from '../../js/scripts/api-doc.mjs';

describe('docs', () => {
  it('docs/api.md matches js/types/index.d.ts (regenerate with `npm run docs:api`)', () => {
    expect(readFileSync(API_MD, 'utf8')).toBe(renderApi());
  });

  it('every exported name of the .d.ts is documented, and a change in the .d.ts changes the doc', () => {
    const dts = readFileSync(DTS, 'utf8');
    const md = readFileSync(API_MD, 'utf8');
    const names = [...dts.matchAll(/^export (?:declare )?(?:interface|type|class|function|const) (\w+)/gm)].map((m) => m[1]);
    expect(names.length).toBeGreaterThan(30);
    for (const n of names) expect(md, n).toContain(n);
    const edited = dts.replace('/** Default "main". */', '/** Default "trunk". */');
    expect(edited).not.toBe(dts);
    expect(renderApi(edited)).not.toBe(md);
  });
});
