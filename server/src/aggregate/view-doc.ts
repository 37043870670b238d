/**
 * The public Yjs document of an aggregate.
 *
 * Layout: one Y.Map named "view"; each top-level key of the definition's `view(state)` is a key
 * of that map holding a plain JSON value. Only keys whose value changed are written, so an
 * update carries what changed and nothing else.
 *
 * Before its first command an aggregate's document is the "genesis" document: the view of the
 * initial state written by the fixed client id 0, so every node builds byte-identical genesis
 * documents. The owner then writes under a random client id. The first log entry of an
 * aggregate carries the whole document (genesis included), so replaying entries from an empty
 * document always reproduces it.
 */
import * as Y from 'yjs';
import { equalityDeep } from 'lib0/function';
import type { PublicView } from './definition.ts';

export const VIEW_MAP = 'view';
const GENESIS_CLIENT_ID = 0;
const EMPTY_UPDATE = new Uint8Array(0);

/**
 * Every view document's guid. A Yjs guid names a document only as a subdocument or to a
 * provider, and these are neither (updates do not carry it). Y.Doc's default guid is a UUID
 * that lib0 draws with one crypto call per hex digit (31 calls per document).
 */
const VIEW_DOC_GUID = 'ringstate-view';

export function newViewDoc(): Y.Doc {
  return new Y.Doc({ gc: true, guid: VIEW_DOC_GUID });
}

/** The genesis document for an aggregate's initial view (deterministic on every node). */
export function genesisDoc(initialView: PublicView): Y.Doc {
  const doc = newViewDoc();
  doc.clientID = GENESIS_CLIENT_ID;
  writeView(doc, initialView);
  return doc;
}

/**
 * Writes `view` into the document and returns the Yjs update that did it (empty when the view
 * did not change).
 */
export function writeView(doc: Y.Doc, view: PublicView): Uint8Array {
  let captured: Uint8Array = EMPTY_UPDATE;
  const capture = (update: Uint8Array): void => {
    captured = update;
  };
  doc.on('update', capture);
  try {
    doc.transact(() => {
      const map = doc.getMap<unknown>(VIEW_MAP);
      for (const [key, value] of Object.entries(view)) {
        if (value === undefined) continue;
        if (!map.has(key) || !equalityDeep(map.get(key), value)) map.set(key, value);
      }
      for (const key of [...map.keys()]) {
        if (!Object.hasOwn(view, key) || view[key] === undefined) map.delete(key);
      }
    });
  } finally {
    doc.off('update', capture);
  }
  return captured;
}

export function applyUpdate(doc: Y.Doc, update: Uint8Array): void {
  if (update.byteLength > 0) Y.applyUpdate(doc, update);
}

export function readView(doc: Y.Doc): PublicView {
  return doc.getMap<unknown>(VIEW_MAP).toJSON();
}
