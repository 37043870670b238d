import { describe, expect, it } from 'vitest';
import { yamux } from '@chainsafe/libp2p-yamux';
import { StreamState, YamuxStream } from '@chainsafe/libp2p-yamux/stream';
import { multiaddrConnectionPair } from '@libp2p/utils';
import { defaultLogger } from '@libp2p/logger';
import type { Stream } from '@libp2p/interface';
import { WINDOW_UPDATE_PATCHED, updateCanWait } from '../../../server/src/peer/window-update-fix.ts';
import '../../../server/src/peer/peer-network.ts';

/** Two yamux muxers over an in-memory connection, counting the window-update frames each side sends. */
async function muxedPair(): Promise<{ sender: Stream; receiver: Promise<Stream>; updatesSent: () => number }> {
  const [outbound, inbound] = multiaddrConnectionPair();
  const factory = (yamux() as unknown as (components: unknown) => ReturnType<ReturnType<typeof yamux>>)({ logger: defaultLogger() });
  const dialer = factory.createStreamMuxer(outbound);
  const listener = factory.createStreamMuxer(inbound);
  let updatesSent = 0;
  // Yamux header: version, type (1 = window update), flags, stream id, length.
  const write = inbound.send.bind(inbound);
  inbound.send = (data: Uint8Array | { subarray(): Uint8Array }) => {
    const bytes = data instanceof Uint8Array ? data : data.subarray();
    if (bytes[1] === 1) updatesSent += 1;
    return write(data as never);
  };
  const receiver = new Promise<Stream>((resolve) => listener.addEventListener('stream', (event) => resolve(event.detail), { once: true }));
  const sender = await dialer.createStream();
  return { sender, receiver, updatesSent: () => updatesSent };
}

describe('yamux window-update fix', () => {
  it('window-update fix - is applied by the peer network module', () => {
    expect((YamuxStream.prototype as unknown as Record<symbol, unknown>)[WINDOW_UPDATE_PATCHED]).toBe(true);
  });

  it('window-update fix - an established stream waits until less than half its window is left; flags and paused streams do not wait', () => {
    expect(updateCanWait({ state: StreamState.Established, recvWindow: 256, recvWindowCapacity: 256 })).toBe(true);
    expect(updateCanWait({ state: StreamState.Established, recvWindow: 256, recvWindowCapacity: 128 })).toBe(true);
    expect(updateCanWait({ state: StreamState.Established, recvWindow: 256, recvWindowCapacity: 127 })).toBe(false);
    expect(updateCanWait({ state: StreamState.SYNReceived, recvWindow: 256, recvWindowCapacity: 256 })).toBe(false);
    expect(updateCanWait({ state: StreamState.Paused, recvWindow: 256, recvWindowCapacity: 256 })).toBe(false);
  });

  it('window-update fix - a sender keeps sending past the initial 256 KB window without waiting for an update per half window', async () => {
    const { sender, receiver, updatesSent } = await muxedPair();
    const peer = await receiver;
    let bytes = 0;
    const total = 8 * 1024 * 1024;
    const done = new Promise<void>((resolve) => {
      peer.addEventListener('message', (event) => {
        bytes += event.data.byteLength;
        if (bytes >= total) resolve();
      });
    });
    for (let sent = 0; sent < total; sent += 64 * 1024) {
      if (!sender.send(new Uint8Array(64 * 1024))) await new Promise((resolve) => sender.addEventListener('drain', resolve, { once: true }));
    }
    await done;
    expect(bytes).toBe(total);
    expect(updatesSent()).toBeLessThan(4);
  });

  it('window-update fix - many windows of data arrive whole and in order, with the window raised to its maximum at the first update, not one update per frame', async () => {
    const { sender, receiver, updatesSent } = await muxedPair();
    const chunks = 2_000;
    const chunkBytes = 1_024;
    const peer = await receiver;
    const received: number[] = [];
    let bytes = 0;
    const done = new Promise<void>((resolve) => {
      peer.addEventListener('message', (event) => {
        const data = event.data.subarray();
        for (let offset = 0; offset < data.byteLength; offset += chunkBytes) received.push(data[offset] ?? -1);
        bytes += data.byteLength;
        if (bytes >= chunks * chunkBytes) resolve();
      });
    });
    for (let index = 0; index < chunks; index += 1) {
      const chunk = new Uint8Array(chunkBytes).fill(index % 256);
      if (!sender.send(chunk)) await new Promise((resolve) => sender.addEventListener('drain', resolve, { once: true }));
    }
    await done;
    expect(bytes).toBe(chunks * chunkBytes);
    expect(received).toEqual(Array.from({ length: chunks }, (_, index) => index % 256));
    // 2 MB: the first update raises the window to 16 MB, and no other is due (without the fix:
    // one update per frame).
    expect(updatesSent()).toBeGreaterThan(0);
    expect(updatesSent()).toBeLessThan(5);
  });
});
