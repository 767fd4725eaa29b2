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
  /** `saved`: names that came with a saved view, shown where this browser has none (never stored). */
  constructor(
    public model: string,
    private readonly saved: Record<string, string> = {},
  ) {}

  private get map(): Record<string, string> {
    return (this.store[this.model] ??= {});
  }
  get(name: string): string | undefined {
    const v = this.store[this.model]?.[name] ?? this.saved[name];
    return typeof v === 'string' ? v.slice(0, MAX_NAME) : undefined;
  }
  /** Every name shown for this model (this browser's over the saved view's). */
  all(): Record<string, string> {
    return { ...this.saved, ...(this.store[this.model] ?? {}) };
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
  /**
   * Merges names from an exported file, all or nothing: the file must say its schema ("lmdbg.names/1")
   * and every name must be a value vector of the loaded model (`shape`). Returns how many were imported
   * and, when the file was exported for another model, its name. Throws an Error that says why not.
   */
  importJson(text: string, shape: { nLayers: number; dMlp: number }): { imported: number; from: string | null } {
    if (text.length > 4_000_000) throw new Error('the file is larger than 4 MB');
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch (e) {
      throw new Error(`not JSON (${(e as Error).message})`);
    }
    const file = v && typeof v === 'object' && !Array.isArray(v) ? (v as { schema?: unknown; model?: unknown; names?: unknown }) : null;
    if (!file || file.schema !== 'lmdbg.names/1')
      throw new Error(`not an lmdbg names file: it needs "schema": "lmdbg.names/1"${file && 'schema' in file ? ` (it has ${JSON.stringify(file.schema)?.slice(0, 40)})` : ''}`);
    const names = file.names;
    if (!names || typeof names !== 'object' || Array.isArray(names)) throw new Error('its "names" must be an object like {"L3D120": "French cities"}');
    const entries = Object.entries(names as Record<string, unknown>);
    if (entries.length > MAX_NAMES) throw new Error(`too many names (${entries.length} > ${MAX_NAMES})`);
    const wrong: string[] = [];
    const clean: [string, string][] = [];
    for (const [k, label] of entries) {
      const m = /^L(\d+)D(\d+)$/.exec(k);
      if (!m) wrong.push(`${JSON.stringify(k.slice(0, 24))} is not a value-vector name like L3D120`);
      else if (Number(m[1]) >= shape.nLayers) wrong.push(`${k}: layer ${m[1]} is outside this model (${shape.nLayers} layers: 0–${shape.nLayers - 1})`);
      else if (Number(m[2]) >= shape.dMlp) wrong.push(`${k}: neuron ${m[2]} is outside this model (${shape.dMlp} per layer: 0–${shape.dMlp - 1})`);
      else if (typeof label !== 'string') wrong.push(`${k}: the name must be text`);
      else {
        const c = label.replace(/[\u0000-\u001f\u007f]/g, ' ').trim().slice(0, MAX_NAME);
        if (c) clean.push([k, c]);
      }
    }
    if (wrong.length) throw new Error(`${wrong.slice(0, 3).join('; ')}${wrong.length > 3 ? `; and ${wrong.length - 3} more` : ''}. Nothing was imported.`);
    for (const [k, c] of clean) this.map[k] = c;
    this.save();
    return { imported: clean.length, from: typeof file.model === 'string' && file.model !== this.model ? file.model.slice(0, 80) : null };
  }
}
