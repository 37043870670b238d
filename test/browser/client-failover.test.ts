/**
 * The SDK bundle in a real browser (Debian's Chromium through playwright-core) against a 3-node
 * cluster of real processes: the page appends to its player aggregate through the SDK with host
 * failover and localStorage; the test kills (kill -9) the node the page is connected to; the page
 * resumes on another node and its history, checked against every replica's log, shows no loss
 * and no duplicate. Prints the time from the kill to the page's next acknowledgement.
 */
import { createServer, type Server } from 'node:http';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchDevToken } from '@ringstate/client-sdk';
import { checkHistories, waitConverged, type PlayerHistory } from '../support/list-append.ts';
import type { ProcessCluster } from '../support/process-cluster.ts';
import { clientHosts, startFoundedCluster } from './founded-cluster.ts';

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const PARTITIONS = 16;
const PLAYER = 'web-player';

/** The page: appends `${PLAYER}:k` one at a time and records every outcome on `window.run`. */
const PAGE = `<!doctype html><meta charset="utf-8"><title>failover</title>
<script type="module">
import { RingstateClient, WebStorageAdapter } from './ringstate-client.js';
const params = new URLSearchParams(location.search);
const run = { acks: [], errors: [], states: [], nodes: [], stop: false, client: undefined };
window.run = run;
window.startRun = async (token, seeds) => {
  const client = new RingstateClient({
    hosts: seeds,
    token,
    storage: new WebStorageAdapter(),
    reconnect: { baseMs: 50, capMs: 400, attemptsMax: Infinity },
    commandRetry: { baseMs: 50, capMs: 400 },
    connectTimeoutMs: 3000,
  });
  run.client = client;
  client.on('state', ({ state }) => run.states.push(state));
  client.on('online', ({ node }) => run.nodes.push(node));
  await client.connect();
  (async () => {
    for (let k = 0; !run.stop; k += 1) {
      const value = params.get('player') + ':' + k;
      try {
        const { seq } = await client.send('player', params.get('player'), { type: 'append', value }, { timeoutMs: 15000 });
        run.acks.push({ value, seq, ackedAtMs: Date.now() });
      } catch (error) {
        run.errors.push(String(error && error.code) + ' ' + String(error && error.message));
      }
    }
    run.done = true;
  })();
};
</script>`;

let cluster: ProcessCluster;
let browser: Browser | undefined;
let server: Server | undefined;
let directory = '';

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'ringstate-browser-'));
  const scriptPath: string = pathToFileURL(join(import.meta.dirname, '../../client-sdk/scripts/build-browser.mjs')).href;
  const script = (await import(scriptPath)) as { buildBrowserBundle(outfile: string): Promise<number> };
  await script.buildBrowserBundle(join(directory, 'ringstate-client.js'));
  const bundle = await readFile(join(directory, 'ringstate-client.js'));
  server = createServer((request, response) => {
    if (request.url?.startsWith('/ringstate-client.js') === true) {
      response.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
    } else if (request.url?.startsWith('/index.html') === true) {
      response.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
    } else {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  cluster = await startFoundedCluster(PARTITIONS);
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS, timeout: 20_000 });
}, 150_000);

afterAll(async () => {
  await browser?.close();
  server?.close();
  await cluster?.stopAll();
  cluster?.remove();
  if (directory !== '') await rm(directory, { recursive: true, force: true });
});

interface PageRun {
  acks: { value: string; seq: number; ackedAtMs: number }[];
  errors: string[];
  states: string[];
  nodes: string[];
  node: string | undefined;
}

describe('browser - client failover', () => {
  it('browser - the page resumes on another node after kill -9 of its node, with no loss and no duplicate', async () => {
    const hosts = clientHosts(cluster);
    const address = server?.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    const page = await (browser as Browser).newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(String(error)));
    await page.goto(`http://127.0.0.1:${port}/index.html?player=${PLAYER}`);
    const token = (await fetchDevToken({ host: hosts[0] ?? '', player: PLAYER })).token;
    await page.waitForFunction(() => typeof (window as unknown as { startRun?: unknown }).startRun === 'function', undefined, { timeout: 10_000 });
    await page.evaluate(([t, seeds]) => (window as unknown as { startRun(token: string, seeds: string[]): Promise<void> }).startRun(t as string, seeds as string[]), [token, hosts] as const);
    const read = (): Promise<PageRun> =>
      page.evaluate(() => {
        const run = (window as unknown as { run: PageRun & { client: { session?: { node: string } } } }).run;
        return { acks: run.acks, errors: run.errors, states: run.states, nodes: run.nodes, node: run.client?.session?.node };
      });
    const waitFor = async (check: (run: PageRun) => boolean, timeoutMs: number): Promise<PageRun> => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const run = await read();
        if (check(run)) return run;
        if (Date.now() > deadline) throw new Error(`page did not get there: ${JSON.stringify({ ...run, acks: run.acks.length })}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };

    const before = await waitFor((run) => run.acks.length >= 30 && run.node !== undefined, 15_000);
    const victim = before.node ?? '';
    const killAtMs = Date.now();
    await cluster.kill(victim, 'SIGKILL');
    const after = await waitFor((run) => run.acks.filter((ack) => ack.ackedAtMs >= killAtMs).length >= 30 && run.node !== undefined && run.node !== victim, 20_000);
    await page.evaluate(() => {
      (window as unknown as { run: { stop: boolean } }).run.stop = true;
    });
    const final = await waitFor(() => true, 1_000);
    await page.waitForFunction(() => (window as unknown as { run: { done?: boolean } }).run.done === true, undefined, { timeout: 20_000 });
    const settled = await read();
    await page.close();

    const recoveryMs = (after.acks.find((ack) => ack.ackedAtMs >= killAtMs)?.ackedAtMs ?? Number.NaN) - killAtMs;
    console.log(`browser failover: kill -9 ${victim}; the page was served again by ${after.node} after ${recoveryMs} ms; acked ${settled.acks.length}; states ${settled.states.join('>')}; errors ${settled.errors.length}`);
    expect(final.node).not.toBe(victim);
    expect(pageErrors).toEqual([]);
    expect(settled.errors).toEqual([]);
    expect(recoveryMs).toBeLessThan(6_000);

    await cluster.start(victim);
    await cluster.waitReady();
    await waitConverged(hosts, 30_000);
    await cluster.stopAll();
    const history: PlayerHistory = { player: PLAYER, acked: settled.acks, failed: 0, indeterminate: 0 };
    const check = await checkHistories(cluster.members.map((member) => member.dataDir), [history], PARTITIONS);
    expect(check.details).toEqual([]);
    expect(check).toMatchObject({ ackedEventsLost: 0, duplicateApplications: 0, divergentReplicas: 0, wrongSeq: 0 });
  }, 60_000);
});
