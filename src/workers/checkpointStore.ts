/**
 * The training lab's saved model in IndexedDB (one slot). Every function resolves or rejects with an Error
 * whose message a reader can act on; `storageProblem()` says up front why saving cannot work, if it cannot.
 */

const DB = 'diffusion-lab';
const STORE = 'checkpoints';
const KEY = 'training-lab';

export interface SavedCheckpoint {
  bytes: Uint8Array;
  step: number;
  savedAt: string;
}

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    let req: IDBOpenDBRequest;
    try {
      req = indexedDB.open(DB, 1);
    } catch (e) {
      reject(new Error(`this browser refuses to open storage (${(e as Error).message})`));
      return;
    }
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(new Error(`storage could not be opened (${req.error?.message ?? 'unknown error'})`));
    req.onblocked = () => reject(new Error('storage is blocked by another tab of this site'));
  });
}

async function withStore<T>(mode: IDBTransactionMode, fn: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await open();
  try {
    return await new Promise<T>((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const req = fn(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = () => reject(new Error(tx.error?.name === 'QuotaExceededError' ? 'the browser has no storage space left for this site' : `storage failed (${tx.error?.message ?? 'unknown error'})`));
      tx.onabort = tx.onerror;
    });
  } finally {
    db.close();
  }
}

/** Why checkpoints cannot be saved here, or null when IndexedDB works. */
export async function storageProblem(): Promise<string | null> {
  if (typeof indexedDB === 'undefined' || indexedDB === null) return 'this browser has no IndexedDB (it may be disabled, or this is a private window)';
  try {
    (await open()).close();
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

export function saveCheckpoint(saved: SavedCheckpoint): Promise<IDBValidKey> {
  return withStore('readwrite', (s) => s.put(saved, KEY));
}

export async function loadCheckpoint(): Promise<SavedCheckpoint | null> {
  const value = await withStore<SavedCheckpoint | undefined>('readonly', (s) => s.get(KEY));
  return value && value.bytes instanceof Uint8Array ? value : null;
}

export function deleteCheckpoint(): Promise<undefined> {
  return withStore('readwrite', (s) => s.delete(KEY));
}
