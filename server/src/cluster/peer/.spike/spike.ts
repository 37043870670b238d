import '../../../polyfills.ts';
import { createLibp2p } from 'libp2p';
import { tcp } from '@libp2p/tcp';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { preSharedKey, generateKey } from '@libp2p/pnet';
import { multiaddr } from '@multiformats/multiaddr';

function key() { const k = new Uint8Array(95); generateKey(k); return k; }
const k1 = key(); const k2 = key();
async function mk(psk: Uint8Array) {
  return createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()],
    connectionProtector: preSharedKey({ psk }),
    connectionGater: {
      denyInboundConnection: (m) => { console.log('gater inbound', m.remoteAddr.toString()); m.addEventListener('close', (e) => console.log('maConn close', (e as any).error?.name)); return false; },
      denyInboundEncryptedConnection: (p) => { console.log('gater encrypted', p.toString().slice(-6)); return false; },
    },
    connectionManager: { inboundUpgradeTimeout: 2000 },
  });
}
const a = await mk(k1); const b = await mk(k1); const s = await mk(k2);
console.log('a addrs', a.getMultiaddrs().map(String));
await a.handle('/t/1', (stream, conn) => {
  console.log('a got stream from', conn.remotePeer.toString().slice(-6), conn.remoteAddr.toString());
  stream.addEventListener('message', (e) => { const d = e.data instanceof Uint8Array ? e.data : e.data.subarray(); console.log('a msg', new TextDecoder().decode(d)); stream.send(d); });
  stream.addEventListener('close', (e) => console.log('a stream close', e.error?.message, e.local));
});
const port = a.getMultiaddrs()[0]!.getComponents().find((c) => c.name === "tcp")!.value;
let t0 = performance.now();
const conn = await b.dial(multiaddr(`/dns4/localhost/tcp/${port}`));
console.log('dial dns4 ok', performance.now() - t0, conn.remotePeer.equals(a.peerId));
const st = await conn.newStream('/t/1');
st.addEventListener('message', (e) => console.log('b echo', new TextDecoder().decode(e.data instanceof Uint8Array ? e.data : e.data.subarray()), performance.now() - t0));
t0 = performance.now();
st.send(new TextEncoder().encode('hello'));
await new Promise((r) => setTimeout(r, 200));
t0 = performance.now();
try { await s.dial(multiaddr(`/ip4/127.0.0.1/tcp/${port}`), { signal: AbortSignal.timeout(3000) }); console.log('STRANGER CONNECTED!'); }
catch (e) { console.log('stranger dial failed', (e as Error).name, (e as Error).message, performance.now() - t0); }
await new Promise((r) => setTimeout(r, 2500));
console.log('b closes');
await b.stop();
await new Promise((r) => setTimeout(r, 200));
await a.stop(); await s.stop();
