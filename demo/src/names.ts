// User-given names for value vectors ("L12D34" -> "French capitals"), per model, kept in localStorage and
// exported/imported as JSON ({"schema": "lmdbg.names/1", "model": ..., "names": {...}}).

const KEY = 'lmdbg.names.v1';
const NAME_KEY_RE = /^L\d{1,3}D\d{1,6}$/;
export const MAX_NAME = 80;
const MAX_NAMES = 20000;

type Store = Record<string, Record<string, string>>;

function load(): Store {
  try {
    const raw = localStorage.getItem(KEY);
    if (!raw) return {};
    const v = JSON.parse(raw);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Store) : {};
  } catch {
    return {};
  }
}

export class Names {
  private store: Store = load();
  private listeners = new Set<() => void>();
  constructor(public model: string) {}

  private get map(): Record<string, string> {
    return (this.store[this.model] ??= {});
  }
  get(name: string): string | undefined {
    const v = this.store[this.model]?.[name];
    return typeof v === 'string' ? v : undefined;
  }
  set(name: string, label: string): void {
    if (!NAME_KEY_RE.test(name)) return;
    const clean = label.replace(/[\u0000-\u001f\u007f]/g, ' ').trim().slice(0, MAX_NAME);
    if (clean) this.map[name] = clean;
    else delete this.map[name];
    this.save();
  }
  count(): number {
    return Object.keys(this.store[this.model] ?? {}).length;
  }
  onChange(fn: () => void): void {
    this.listeners.add(fn);
  }
  private save(): void {
    try {
      localStorage.setItem(KEY, JSON.stringify(this.store));
    } catch {
      /* storage full or disabled: names stay for this session */
    }
    for (const fn of this.listeners) fn();
  }
  exportJson(): string {
    return JSON.stringify({ schema: 'lmdbg.names/1', model: this.model, names: this.store[this.model] ?? {} }, null, 2);
  }
  /** Merges names from an exported file; returns how many were imported. Throws on a malformed file. */
  importJson(text: string): number {
    if (text.length > 4_000_000) throw new Error('names file is too large');
    const v = JSON.parse(text);
    const names = v && typeof v === 'object' ? (v.schema === 'lmdbg.names/1' ? v.names : v) : null;
    if (!names || typeof names !== 'object' || Array.isArray(names)) throw new Error('not a names file (expected {"schema": "lmdbg.names/1", "names": {...}})');
    const entries = Object.entries(names as Record<string, unknown>);
    if (entries.length > MAX_NAMES) throw new Error(`too many names (${entries.length} > ${MAX_NAMES})`);
    let n = 0;
    for (const [k, label] of entries) {
      if (!NAME_KEY_RE.test(k) || typeof label !== 'string') continue;
      const clean = label.replace(/[\u0000-\u001f\u007f]/g, ' ').trim().slice(0, MAX_NAME);
      if (!clean) continue;
      this.map[k] = clean;
      n++;
    }
    this.save();
    return n;
  }
}
