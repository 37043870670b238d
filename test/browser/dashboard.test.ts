/**
 * The dashboard in a real browser (Debian's Chromium through playwright-core) at 1280×800:
 * - against a 3-node cluster of real processes: the page shows what the admin API says (members,
 *   owners, replicas, epochs), updates by itself, and after a node is killed shows it down, its
 *   partitions under new owners and the ownership changes;
 * - against canned admin answers shaped like a Kubernetes cluster (long pod DNS names, 5 members,
 *   64 partitions, a flapping history): the members table fits its panel, the ring's labels are
 *   readable and apart, and no two ownership rows look the same.
 * Both check the layout the same way (`layoutProblems`) and leave a screenshot in `.tmp/`.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownershipTransitions, type OwnershipEvent } from '../../server/src/observability/index.ts';
import { renderDashboardPage } from '../../server/src/observability/dashboard-page.ts';
import { busiestOwner, waitConverged } from '../support/list-append.ts';
import { startProcessCluster, type ProcessCluster, type ProcessMember } from '../support/process-cluster.ts';

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const PARTITIONS = 16;
const VIEWPORT = { width: 1280, height: 800 };
/** The smallest ring label, in CSS px as drawn (font size times the SVG's scale). */
const RING_LABEL_PX_MIN = 11;

interface AdminView {
  nodeId: string;
  members: Array<{ nodeId: string; address: string; alive: boolean }>;
  partitions: Array<{ partition: number; owner: string | null; replicas: string[]; epoch: number }>;
}

interface PageView {
  members: Array<{ nodeId: string; alive: boolean }>;
  ringSummary: string;
  partitions: Array<{ partition: number; owner: string; replicas: string; epoch: number }>;
  ownershipRows: number;
  ringOwners: string[];
  updates: number;
  status: string;
}

let cluster: ProcessCluster | undefined;
let browser: Browser | undefined;

beforeAll(async () => {
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS, timeout: 30_000 });
  cluster = await startProcessCluster(3, { partitionCount: PARTITIONS });
  // Every partition owned before the page is compared (elections are slower on a busy machine).
  await waitConverged(cluster.members.map((member) => `${member.host}:${member.port}`), 60_000);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await cluster?.stopAll();
  cluster?.remove();
});

async function adminView(member: ProcessMember): Promise<AdminView> {
  const response = await fetch(`http://${member.host}:${member.port}/v1/admin/cluster`, { signal: AbortSignal.timeout(2_000) });
  return (await response.json()) as AdminView;
}

async function readPage(page: Page): Promise<PageView> {
  return page.evaluate(() => {
    const rows = (selector: string): HTMLElement[] => Array.from(document.querySelectorAll<HTMLElement>(selector));
    return {
      members: rows('#members tbody tr').map((row) => ({ nodeId: row.dataset['member'] ?? '', alive: row.dataset['alive'] === 'true' })),
      partitions: rows('#partitions tbody tr').map((row) => ({
        partition: Number(row.dataset['partition']),
        owner: row.dataset['owner'] ?? '',
        replicas: row.children[2]?.textContent ?? '',
        epoch: Number(row.children[3]?.textContent),
      })),
      ownershipRows: rows('#ownership tbody tr').length,
      ringOwners: Array.from(document.querySelectorAll('#ring path')).map((path) => path.getAttribute('data-owner') ?? ''),
      updates: Number(document.body.dataset['updates']),
      status: document.getElementById('status')?.textContent ?? '',
      ringSummary: document.getElementById('ring-summary')?.textContent ?? '',
    };
  });
}

/**
 * What reads badly on the page as it is drawn now, one line per problem: a members or ownership
 * cell outside its panel's visible box (cut off, or only reachable by scrolling the panel), a
 * ring label under RING_LABEL_PX_MIN or overlapping another, two ownership rows with the same
 * text, or ownership rows that do not account for every change the API listed.
 */
async function layoutProblems(page: Page): Promise<string[]> {
  return page.evaluate((labelPxMin) => {
    const problems: string[] = [];
    const inPanel = (table: string): void => {
      const panel = document.querySelector(table)?.closest('section');
      if (!panel) return void problems.push(`${table}: no panel`);
      const box = panel.getBoundingClientRect();
      const visible = { left: box.left + panel.clientLeft, right: box.left + panel.clientLeft + panel.clientWidth };
      if (panel.scrollWidth > panel.clientWidth) problems.push(`${table}: the panel scrolls sideways (${panel.scrollWidth} > ${panel.clientWidth} px)`);
      for (const row of Array.from(document.querySelectorAll(`${table} tr`))) {
        const last = row.lastElementChild?.getBoundingClientRect();
        if (last && (last.right > visible.right + 0.5 || last.left < visible.left - 0.5)) problems.push(`${table}: last column at ${last.left}-${last.right} px, panel shows ${visible.left}-${visible.right} px`);
      }
    };
    inPanel('#members');
    inPanel('#ownership');
    const svg = document.querySelector<SVGSVGElement>('#ring');
    const scale = svg?.getScreenCTM()?.a ?? 0;
    const labels = Array.from(document.querySelectorAll<SVGTextElement>('#ring text'));
    if (labels.length < 2) problems.push(`ring: ${labels.length} labels`);
    for (const label of labels) {
      const px = parseFloat(getComputedStyle(label).fontSize) * scale;
      if (px < labelPxMin) problems.push(`ring: label "${label.textContent}" is ${px.toFixed(1)} px`);
    }
    const boxes = labels.map((label) => ({ text: label.textContent, box: label.getBoundingClientRect() }));
    for (let i = 0; i < boxes.length; i += 1) {
      for (let j = i + 1; j < boxes.length; j += 1) {
        const a = boxes[i]!.box, b = boxes[j]!.box;
        if (a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom) problems.push(`ring: labels "${boxes[i]!.text}" and "${boxes[j]!.text}" overlap`);
      }
    }
    const rows = Array.from(document.querySelectorAll<HTMLElement>('#ownership tbody tr'));
    const texts = rows.map((row) => Array.from(row.children).map((cell) => cell.textContent).join(' | '));
    const seen = new Set<string>();
    for (const text of texts) {
      if (seen.has(text)) problems.push(`ownership: two rows read "${text}"`);
      seen.add(text);
    }
    const accounted = rows.reduce((sum, row) => sum + Number(row.dataset['changes']), 0);
    const changesListed = Number(document.getElementById('ownership')?.dataset['changesListed']);
    if (accounted !== changesListed) problems.push(`ownership: rows cover ${accounted} changes, the API listed ${changesListed}`);
    return problems;
  }, RING_LABEL_PX_MIN);
}

async function screenshot(page: Page, name: string): Promise<string> {
  const dir = join(process.cwd(), '.tmp');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, name);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Polls until the page and the admin API agree (both move while elections settle). */
async function expectPageMatchesApi(page: Page, member: ProcessMember, timeoutMs: number): Promise<{ shown: PageView; api: AdminView }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const api = await adminView(member);
    const shown = await readPage(page);
    const sameMembers = JSON.stringify(shown.members) === JSON.stringify(api.members.map((row) => ({ nodeId: row.nodeId, alive: row.alive })));
    const sameOwners = JSON.stringify(shown.partitions.map((row) => [row.partition, row.owner, row.replicas, row.epoch])) === JSON.stringify(api.partitions.map((row) => [row.partition, row.owner ?? '', row.replicas.join(', '), row.epoch]));
    if (sameMembers && sameOwners) return { shown, api };
    if (Date.now() > deadline) {
      expect(shown.members).toEqual(api.members.map((row) => ({ nodeId: row.nodeId, alive: row.alive })));
      expect(shown.partitions.map((row) => row.owner)).toEqual(api.partitions.map((row) => row.owner ?? ''));
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

describe('dashboard - browser', () => {
  it('dashboard - shows the admin view, updates live, and shows a killed node and moved owners', async () => {
    const current = cluster as ProcessCluster;
    const hosts = current.members.map((member) => `${member.host}:${member.port}`);
    const victimId = await busiestOwner(hosts);
    const viewer = current.members.find((member) => member.nodeId !== victimId) as ProcessMember;
    const page = await (browser as Browser).newPage({ viewport: VIEWPORT });
    const external: string[] = [];
    page.on('request', (request) => {
      if (!request.url().startsWith(`http://${viewer.host}:${viewer.port}/`)) external.push(request.url());
    });
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));

    const response = await page.goto(`http://${viewer.host}:${viewer.port}/dashboard`);
    expect(response?.status()).toBe(200);
    expect(await page.textContent('#node-id')).toBe(viewer.nodeId);
    await page.waitForFunction(() => Number(document.body.dataset['updates']) >= 1, undefined, { timeout: 10_000 });

    const before = await expectPageMatchesApi(page, viewer, 10_000);
    expect(before.shown.members.map((row) => row.nodeId).sort()).toEqual(['node-1', 'node-2', 'node-3']);
    expect(before.shown.ringSummary).toContain('(generation 0: node-1, node-2, node-3)');
    expect(before.shown.members.every((row) => row.alive)).toBe(true);
    expect(before.shown.partitions).toHaveLength(PARTITIONS);
    expect(before.shown.ringOwners).toHaveLength(PARTITIONS);
    expect(before.shown.partitions.some((row) => row.owner === victimId)).toBe(true);
    expect(before.shown.status).toBe('live');
    const statsBefore = (await (await fetch(`http://${viewer.host}:${viewer.port}/v1/admin/stats`)).json()) as { ownershipChanges: { recordedCount: number } };
    const shownConnections = await page.textContent('[data-stat="connections"] .value');
    expect(shownConnections).toMatch(/^\d+$/);
    // Live: the update counter keeps moving without a reload.
    const updatesBefore = before.shown.updates;
    await page.waitForFunction((n) => Number(document.body.dataset['updates']) >= n + 2, updatesBefore, { timeout: 5_000 });

    const killedAtMs = Date.now();
    await current.kill(victimId, 'SIGKILL');
    await page.waitForFunction((id) => document.querySelector(`#members tr[data-member="${id}"]`)?.getAttribute('data-alive') === 'false', victimId, { timeout: 10_000 });
    await page.waitForFunction(
      (id) => {
        const rows = Array.from(document.querySelectorAll<HTMLElement>('#partitions tbody tr'));
        return rows.length > 0 && rows.every((row) => row.dataset['owner'] !== '' && row.dataset['owner'] !== id);
      },
      victimId,
      { timeout: 15_000 },
    );
    const shownMovedMs = Date.now() - killedAtMs;
    const after = await expectPageMatchesApi(page, viewer, 10_000);
    expect(after.shown.members.find((row) => row.nodeId === victimId)?.alive).toBe(false);
    expect(after.shown.partitions.every((row) => row.owner !== victimId && row.owner !== '')).toBe(true);
    expect(after.shown.ringOwners.every((owner) => owner !== victimId && owner !== '')).toBe(true);
    const statsAfter = (await (await fetch(`http://${viewer.host}:${viewer.port}/v1/admin/stats`)).json()) as { ownershipChanges: { recordedCount: number; recent: Array<{ atMs: number; owner: string | null }>; transitions: unknown[] } };
    expect(statsAfter.ownershipChanges.recordedCount).toBeGreaterThan(statsBefore.ownershipChanges.recordedCount);
    expect(statsAfter.ownershipChanges.recent.some((change) => change.atMs >= killedAtMs && change.owner !== victimId)).toBe(true);
    await page.waitForFunction(() => document.querySelectorAll('#ownership tbody tr').length > 0, undefined, { timeout: 5_000 });
    expect(statsAfter.ownershipChanges.transitions.length).toBeLessThan(statsAfter.ownershipChanges.recent.length);
    expect(await layoutProblems(page)).toEqual([]);
    await screenshot(page, 'dashboard.png');
    console.log(`dashboard: ${victimId} killed; page showed every partition under a live owner after ${shownMovedMs} ms (viewer ${viewer.nodeId})`);
    expect(external).toEqual([]);
    expect(pageErrors).toEqual([]);
    await page.close();
  }, 120_000);
});

/** Five pods of a StatefulSet, 64 partitions, one pod down, and a history that flapped. */
function cannedAnswers(): { cluster: unknown; stats: unknown; recent: OwnershipEvent[] } {
  const members = [0, 1, 2, 3, 4].map((i) => `ringstate-${i}`);
  const partitionCount = 64;
  const partitions = Array.from({ length: partitionCount }, (_, partition) => {
    const replicas = [0, 1, 2].map((k) => members[(partition + k) % members.length] as string);
    const owner = replicas[0] === 'ringstate-4' ? (replicas[1] as string) : (replicas[0] as string);
    return { partition, owner, replicas, epoch: 3 + (partition % 4), role: owner === 'ringstate-0' ? 'owner' : 'follower', commit: 120_000 + partition, applied: 120_000 + partition, lag: partition % 9 === 0 ? 2 : 0, ready: true, spread: true, votersSpread: partition % 13 !== 0 };
  });
  const cluster = {
    nodeId: 'ringstate-0',
    ringVersion: 2_914_446_221,
    ring: { generation: 7, members, clusterId: 'prod-eu-1' },
    leaving: false,
    // Two zones for three copies: the failure-domain warning shows under the ring.
    members: members.map((nodeId, i) => ({
      nodeId,
      address: `${nodeId}.ringstate-peers.ringstate-production.svc.cluster.local:7001`,
      alive: i !== 4,
      self: i === 0,
      zone: `eu-west-1${i % 2 === 0 ? 'a' : 'b'}`,
      host: `ip-10-0-${i}-17.eu-west-1.compute.internal`,
    })),
    partitions,
    spread: {
      zones: 2,
      hosts: 5,
      replicationFactor: 3,
      shortfalls: [{ level: 'zone', domains: 2, wanted: 3 }],
      warning: "replica sets cannot spread over enough failure domains (2 zones for 3 copies): one zone's outage can take a majority of some partitions' replicas",
    },
  };
  const startMs = Date.UTC(2026, 0, 5, 14, 30, 0);
  const recent: OwnershipEvent[] = [];
  const record = (atMs: number, partition: number, epoch: number, role: string, owner: string | null, reason: string, ready = false): void => {
    recent.push({ atMs, partition, epoch, role, owner, ready, reason });
  };
  // ringstate-4 dies: every partition it owned moves; here a follower of most, owner of some.
  for (const row of partitions.filter((p) => p.replicas[0] === 'ringstate-4')) {
    if (row.owner === 'ringstate-0') {
      record(startMs + 10, row.partition, row.epoch - 1, 'pre-candidate', null, 'campaign');
      record(startMs + 25, row.partition, row.epoch, 'candidate', null, 'campaign');
      record(startMs + 61, row.partition, row.epoch, 'owner', 'ringstate-0', 'elected');
      record(startMs + 70, row.partition, row.epoch, 'owner', 'ringstate-0', 'ready', true);
    } else if (row.replicas.includes('ringstate-0')) {
      record(startMs + 40, row.partition, row.epoch, 'follower', null, 'higher-epoch');
      record(startMs + 90, row.partition, row.epoch, 'follower', row.owner, 'owner-discovered');
    }
  }
  // One partition flaps: pre-votes that lose, again and again, then an owner is found.
  for (let round = 0; round < 6; round += 1) {
    record(startMs + 5_000 + round * 300, 17, 5, 'pre-candidate', null, 'campaign');
    record(startMs + 5_100 + round * 300, 17, 5, 'follower', null, 'election-lost');
  }
  record(startMs + 7_000, 17, 6, 'follower', 'ringstate-1', 'owner-discovered');
  // One still under way.
  record(startMs + 9_000, 40, 8, 'follower', null, 'check-quorum-lost');
  recent.sort((a, b) => b.atMs - a.atMs);
  const stats = {
    nodeId: 'ringstate-0', pid: 1, atMs: startMs + 9_500, uptimeSeconds: 86_400, connections: 1_204, subscriptions: 3_877, activeAggregates: 2_419,
    commands: { commandsPerSecond: 812.4, p99Ms: 7.2, p99AboveMax: false, windowMs: 5_000, commandsTotal: 70_000_000 },
    limitTrips: { commandsInFlightMax: 3 },
    ownershipChanges: { recordedCount: 1_893, recent, transitions: ownershipTransitions(recent) },
  };
  return { cluster, stats, recent };
}

describe('dashboard - layout', () => {
  it('dashboard - at 1280×800 the members table fits its panel, ring labels are readable, ownership rows are distinct', async () => {
    const answers = cannedAnswers();
    const page = await (browser as Browser).newPage({ viewport: VIEWPORT });
    const origin = 'http://dashboard.test';
    await page.route(`${origin}/**`, async (route) => {
      const path = new URL(route.request().url()).pathname;
      if (path === '/dashboard') return route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: renderDashboardPage({ nodeId: 'ringstate-0' }) });
      if (path === '/v1/admin/cluster') return route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(answers.cluster) });
      if (path === '/v1/admin/stats') return route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(answers.stats) });
      return route.fulfill({ status: 404, body: '' });
    });
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(`${origin}/dashboard`);
    await page.waitForFunction(() => Number(document.body.dataset['updates']) >= 1, undefined, { timeout: 10_000 });

    expect(await page.getAttribute('#ownership', 'data-changes-listed')).toBe(String(answers.recent.length));
    expect(await layoutProblems(page)).toEqual([]);
    expect(await page.getAttribute('#spread', 'data-warning')).toBe('true');
    expect(await page.textContent('#members tbody tr')).toContain('eu-west-1a');
    // The whole members table is on the first screen, not below the fold.
    const membersBottom = await page.evaluate(() => document.querySelector('#members')?.getBoundingClientRect().bottom ?? Infinity);
    expect(membersBottom).toBeLessThanOrEqual(VIEWPORT.height);
    const ringLabels = await page.$$eval('#ring text[data-partition-label]', (labels) => labels.map((label) => Number(label.getAttribute('data-partition-label'))));
    expect(ringLabels[0]).toBe(0);
    expect(ringLabels.length).toBeGreaterThanOrEqual(8);
    // ringstate-4's death is one row per way it went here, and the flapping partition is one row.
    const rows = await page.$$eval('#ownership tbody tr', (trs) => trs.map((tr) => ({ partitions: tr.getAttribute('data-partitions'), steady: tr.getAttribute('data-steady'), text: Array.from(tr.children).map((cell) => cell.textContent).join(' | ') })));
    expect(rows.length).toBeLessThan(answers.recent.length / 3);
    expect(rows.filter((row) => row.partitions === '17')).toHaveLength(1);
    // Its partitions were at epochs 3 to 6; the election here is still one row.
    expect(rows.filter((row) => row.text.includes('pre-vote → campaign → elected → ready'))).toHaveLength(1);
    expect(rows.find((row) => row.partitions === '17')?.text).toContain('pre-vote → election-lost → pre-vote');
    expect(rows.find((row) => row.partitions === '40')?.steady).toBe('false');
    const path = await screenshot(page, 'dashboard-layout.png');
    console.log(`dashboard layout: ${rows.length} ownership rows for ${answers.recent.length} changes, ${ringLabels.length} ring labels; screenshot ${path}`);
    expect(pageErrors).toEqual([]);
    await page.close();
  }, 60_000);
});
