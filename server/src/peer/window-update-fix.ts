/**
 * Stops yamux from answering every data frame with a window update.
 *
 * @chainsafe/libp2p-yamux 8.0.1 calls `sendWindowUpdate` after each data frame it receives, and
 * that sends a WindowUpdate frame whenever any of the receive window has been used, that is,
 * always. So each replication frame a node sends comes back as one more frame: a yamux header
 * through Noise and pnet's ciphers, a socket write on the receiver, a read and two decryptions
 * on the sender. Replication coalesces a step's messages into one frame per peer, so this
 * doubled the frames on the peer links (`sendWindowUpdate` alone was 3.6 % of the nodes' CPU in
 * a bench:cluster profile, before the sender's side of each update).
 *
 * The yamux specification leaves when to send an update to the receiver; Go's yamux (and
 * rust-yamux and py-libp2p since their fixes) send one only once at least half of the window
 * is used. This patch does the same: on an established stream (no SYN or ACK flag due), an
 * update waits until less than half the receive window is left. Paused streams and streams that
 * owe a flag take the original path unchanged.
 *
 * Waiting alone made overloaded nodes slower (bench:peers served p99 up 15-30 % in three pairs):
 * the window stayed at its initial 256 KB, because the package grows it only when updates go
 * out within four round trips, and a sender whose credit ran out waited for an update behind a
 * busy event loop. Updating after every frame had hidden that. So an established stream's
 * receive window is raised to its maximum (`maxStreamWindowSize`, 16 MB by default) at its
 * first update: the sender then always holds at least half of that, far more than a replication
 * step sends, and an update goes out once per 8 MB received. The receiver decides its window
 * (the initial 256 KB both sides assume is unchanged), and a peer's stream is read as its
 * frames arrive (the package pauses it past `maxReadBufferLength` as before), so the larger
 * window costs no memory a slow reader would not already hold.
 *
 * Applied once when this module is imported (before any connection exists). The package is
 * pinned (server/package.json), and the patch refuses to apply, loudly, if the stream is not the
 * expected shape. test/unit/peer/window-update-fix.test.ts checks the rule and a transfer of
 * many windows' worth of data through two muxers.
 */
import { StreamState, YamuxStream } from '@chainsafe/libp2p-yamux/stream';

/** The stream's fields this patch reads (private in the package's types). */
interface WindowFields {
  state: StreamState;
  recvWindow: number;
  recvWindowCapacity: number;
  maxStreamWindowSize: number;
}

export const WINDOW_UPDATE_PATCHED = Symbol.for('ringstate.window-update-fix');

type Patchable = typeof YamuxStream.prototype & { [WINDOW_UPDATE_PATCHED]?: true };

/** Whether an established stream's update can wait: at least half its receive window is still open. */
export function updateCanWait(stream: Omit<WindowFields, 'maxStreamWindowSize'>): boolean {
  return stream.state === StreamState.Established && stream.recvWindowCapacity * 2 >= stream.recvWindow;
}

function applyFix(): void {
  const prototype = YamuxStream.prototype as Patchable;
  if (prototype[WINDOW_UPDATE_PATCHED] === true) return;
  const sendWindowUpdate = (prototype as unknown as { sendWindowUpdate?: unknown }).sendWindowUpdate;
  if (typeof sendWindowUpdate !== 'function' || typeof StreamState.Established !== 'number' || typeof StreamState.Paused !== 'number') {
    throw new Error('@chainsafe/libp2p-yamux YamuxStream is not the expected shape; review server/src/peer/window-update-fix.ts');
  }
  (prototype as unknown as { sendWindowUpdate: () => void }).sendWindowUpdate = function sendWindowUpdateAtHalf(this: WindowFields) {
    if (this.state === StreamState.Established && this.recvWindow < this.maxStreamWindowSize) this.recvWindow = this.maxStreamWindowSize;
    if (updateCanWait(this)) return;
    sendWindowUpdate.call(this);
  };
  prototype[WINDOW_UPDATE_PATCHED] = true;
}

applyFix();
