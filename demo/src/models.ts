// The models the page offers, where their files come from, and whether they are available offline.
import type { Dtype } from 'lmdbg';

export interface BundledInfo {
  dir: string;
  /** File name -> size in bytes, as built into the site (models/manifest.json). */
  files: Record<string, number>;
}

export interface ModelEntry {
  key: string;
  kind: 'hub' | 'bundled' | 'files' | 'url';
  label: string;
  /** Hub id, bundled directory, or the folder's absolute URL. */
  id?: string;
  /** Bytes to download, when known. */
  size?: number;
  dtype?: Dtype;
  /** Shown as available offline. */
  offline?: boolean;
  /** Bytes of an interrupted download kept in the cache (the next load resumes from them). */
  kept?: number;
}

export const HUB_MODELS: ModelEntry[] = [
  { key: 'hub:openai-community/gpt2', kind: 'hub', id: 'openai-community/gpt2', label: 'GPT-2 small (124M)', size: 548_105_171 + 1_042_301 + 456_318 + 665, dtype: 'f32' },
  { key: 'hub:openai-community/gpt2-medium', kind: 'hub', id: 'openai-community/gpt2-medium', label: 'GPT-2 medium (355M)', size: 1_519_851_248 + 1_042_301 + 456_318 + 718, dtype: 'f16' },
];
export const DEFAULT_MODEL = HUB_MODELS[0].key;
export const FILES_ENTRY: ModelEntry = { key: 'files', kind: 'files', label: 'Your own files' };
export const REQUIRED_FILES = ['config.json', 'model.safetensors', 'vocab.json', 'merges.txt'];
export const CLUSTERS_FILE = 'value_clusters.json';
/** The package's Cache Storage name for downloaded model files (LoadOptions.cache default). */
export const MODEL_CACHE = 'lmdbg-models';

/** A file of the demo site: relative to the page, or to `base` (where <lm-debugger>'s script lives). */
export function siteUrl(path: string, base = document.baseURI): string {
  return new URL(path, base).href;
}

export async function readManifest(base?: string): Promise<BundledInfo[]> {
  try {
    const r = await fetch(siteUrl('models/manifest.json', base));
    if (!r.ok) return [];
    const m = await r.json();
    if (!m || !Array.isArray(m.models)) return [];
    return (m.models as BundledInfo[]).filter((x) => typeof x.dir === 'string' && /^[\w.-]{1,64}$/.test(x.dir) && x.files && typeof x.files === 'object');
  } catch {
    return [];
  }
}

export function bundledEntry(b: BundledInfo): ModelEntry {
  const size = Object.values(b.files).reduce((a, n) => a + (Number(n) || 0), 0);
  return { key: 'bundled', kind: 'bundled', id: b.dir, label: `${b.dir} (bundled)`, size, dtype: 'f32', offline: true };
}

export function hubHostFor(hub: string | null): string {
  return hub ? new URL(hub, location.origin).href.replace(/\/+$/, '') : 'https://huggingface.co';
}

/** True when the four files of a Hub model are in the package's cache (so it loads offline). */
export async function hubCached(id: string, hubHost: string): Promise<boolean> {
  if (!('caches' in self)) return false;
  try {
    if (!(await caches.has(MODEL_CACHE))) return false;
    const cache = await caches.open(MODEL_CACHE);
    const keys = await cache.keys();
    const urls = keys.map((k) => k.url);
    return REQUIRED_FILES.every((f) => urls.some((u) => u.startsWith(hubHost) && u.includes(`/${id}/resolve/`) && u.endsWith(`/${f}`)));
  } catch {
    return false;
  }
}

/**
 * Bytes of a Hub model already in the package's cache without being complete: its small files and the
 * parts of an interrupted model.safetensors download ("…/model.safetensors?lmdbg-bytes=START").
 */
export async function hubKept(id: string, hubHost: string): Promise<number> {
  if (!('caches' in self)) return 0;
  try {
    if (!(await caches.has(MODEL_CACHE))) return 0;
    const cache = await caches.open(MODEL_CACHE);
    let n = 0;
    for (const k of await cache.keys()) {
      if (!k.url.startsWith(`${hubHost}/${id}/resolve/`)) continue;
      const r = await cache.match(k);
      n += Number(r?.headers.get('content-length') ?? 0) || 0;
    }
    return n;
  } catch {
    return 0;
  }
}

/** Matches dropped files to the checkpoint's names; returns the missing ones too. */
export function matchFiles(list: File[]): { files: File[]; missing: string[]; clusters: File | null; ignored: string[] } {
  const byName = new Map<string, File>();
  const ignored: string[] = [];
  for (const f of list) {
    if (REQUIRED_FILES.includes(f.name) || f.name === CLUSTERS_FILE) byName.set(f.name, f);
    else ignored.push(f.name);
  }
  return {
    files: REQUIRED_FILES.filter((n) => byName.has(n)).map((n) => byName.get(n)!),
    missing: REQUIRED_FILES.filter((n) => !byName.has(n)),
    clusters: byName.get(CLUSTERS_FILE) ?? null,
    ignored,
  };
}

/** Download speed over the last few seconds. */
export class SpeedMeter {
  private samples: [number, number][] = [];
  add(bytes: number, t = performance.now()): void {
    this.samples.push([t, bytes]);
    while (this.samples.length > 2 && t - this.samples[0][0] > 3000) this.samples.shift();
  }
  /** Bytes per second, or null before there is enough data. */
  get rate(): number | null {
    if (this.samples.length < 2) return null;
    const [t0, b0] = this.samples[0];
    const [t1, b1] = this.samples[this.samples.length - 1];
    return t1 - t0 > 200 ? ((b1 - b0) * 1000) / (t1 - t0) : null;
  }
}
