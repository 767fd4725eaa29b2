// The user's own checkpoint files, kept in the browser's origin-private file system (OPFS), so that a
// reload or a `?m=files` link finds them again without a new drop. Reading them back gives disk-backed
// Files: a large model.safetensors is never held in memory.
import { CLUSTERS_FILE, REQUIRED_FILES } from './models';

const DIR = 'lmdbg-files';
const KEPT = new Set([...REQUIRED_FILES, CLUSTERS_FILE]);

async function dir(create: boolean): Promise<FileSystemDirectoryHandle | null> {
  if (!navigator.storage?.getDirectory) return null;
  try {
    return await (await navigator.storage.getDirectory()).getDirectoryHandle(DIR, { create });
  } catch {
    return null;
  }
}

/** The kept files (only the checkpoint's own names). */
export async function keptFiles(): Promise<File[]> {
  const d = await dir(false);
  if (!d) return [];
  const out: File[] = [];
  for (const name of KEPT) {
    try {
      out.push(await (await d.getFileHandle(name)).getFile());
    } catch {
      /* not kept */
    }
  }
  return out;
}

/**
 * Keeps `files` (replacing kept files of the same names). Resolves to null, or to why they could not
 * be kept (no OPFS in this browser, storage full...); a file that failed midway is removed.
 */
export async function keepFiles(files: File[]): Promise<string | null> {
  const d = await dir(true);
  if (!d) return 'this browser has no private file system for pages (OPFS)';
  for (const f of files) {
    if (!KEPT.has(f.name)) continue;
    try {
      const w = await (await d.getFileHandle(f.name, { create: true })).createWritable();
      await f.stream().pipeTo(w);
    } catch (e) {
      await d.removeEntry(f.name).catch(() => {});
      const quota = (e as Error).name === 'QuotaExceededError';
      return `${f.name} could not be stored${quota ? ': the browser’s storage for this site is full' : ` (${(e as Error).message})`}`;
    }
  }
  return null;
}

export async function forgetFiles(): Promise<void> {
  const root = navigator.storage?.getDirectory ? await navigator.storage.getDirectory().catch(() => null) : null;
  await root?.removeEntry(DIR, { recursive: true }).catch(() => {});
}
