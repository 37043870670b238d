/**
 * The dashboard in a real browser (Debian's Chromium through playwright-core) against a
 * 3-node cluster of real processes: the page shows what the admin API says (members, owners,
 * replicas, epochs), updates by itself, and after a node is killed shows it down, its
 * partitions under new owners and the ownership changes.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busiestOwner, waitConverged } from '../support/list-append.ts';
import { startProcessCluster, type ProcessCluster, type ProcessMember } from '../support/process-cluster.ts';

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const PARTITIONS = 16;

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
    const page = await (browser as Browser).newPage();
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
    const statsAfter = (await (await fetch(`http://${viewer.host}:${viewer.port}/v1/admin/stats`)).json()) as { ownershipChanges: { recordedCount: number; recent: Array<{ atMs: number; owner: string | null }> } };
    expect(statsAfter.ownershipChanges.recordedCount).toBeGreaterThan(statsBefore.ownershipChanges.recordedCount);
    expect(statsAfter.ownershipChanges.recent.some((change) => change.atMs >= killedAtMs && change.owner !== victimId)).toBe(true);
    await page.waitForFunction(() => document.querySelectorAll('#ownership tbody tr').length > 0, undefined, { timeout: 5_000 });

    const dir = join(process.cwd(), '.tmp');
    mkdirSync(dir, { recursive: true });
    await page.screenshot({ path: join(dir, 'dashboard.png'), fullPage: true });
    console.log(`dashboard: ${victimId} killed; page showed every partition under a live owner after ${shownMovedMs} ms (viewer ${viewer.nodeId})`);
    expect(external).toEqual([]);
    expect(pageErrors).toEqual([]);
    await page.close();
  }, 120_000);
});
