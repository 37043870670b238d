/**
 * The Kubernetes manifests in infra/k8s: valid against the Kubernetes schemas (kubernetes-models),
 * no unknown fields, wired to each other (selectors, ports, probes, Secret) and carrying a node
 * configuration the real config loader accepts. The negative cases prove the validators fail.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { loadConfig } from '../../../server/src/config/index.ts';
import { K8S_DIR, fillPlaceholderSecrets, loadManifests, parseManifests, schemaErrors, settingEnvNames, strictFieldErrors, type Manifest } from './k8s-manifests.ts';

// cluster-services.ts waits up to 3 s for partitions to move before it stops replicating.
const HANDOVER_WAIT_SECONDS = 3;

const manifests = loadManifests();
const byKind = (kind: string, name?: string): Record<string, any> => {
  const found = manifests.find((manifest) => manifest.kind === kind && (name === undefined || (manifest.body['metadata'] as { name?: string }).name === name));
  if (found === undefined) throw new Error(`no ${kind} ${name ?? ''}`);
  return found.body as Record<string, any>;
};
const clone = <T>(value: T): T => structuredClone(value);

describe('infra k8s - manifests', () => {
  it('k8s - every object passes the Kubernetes schema', () => {
    expect(manifests.map((manifest) => manifest.kind).sort()).toEqual(['ConfigMap', 'Namespace', 'PodDisruptionBudget', 'Secret', 'Service', 'Service', 'StatefulSet']);
    expect(manifests.flatMap(schemaErrors)).toEqual([]);
  });

  it('k8s - no object has unknown or misspelt fields', () => {
    expect(strictFieldErrors(manifests)).toEqual([]);
  }, 60_000);

  it('k8s - broken manifests are refused (negative cases)', () => {
    const statefulSet = manifests.find((manifest) => manifest.kind === 'StatefulSet') as Manifest;
    const wrongType = clone(statefulSet);
    (wrongType.body as any).spec.template.spec.containers[0].ports[0].containerPort = 'nine-thousand';
    expect(schemaErrors(wrongType).join()).toMatch(/containerPort must be integer/);
    const missing = clone(statefulSet);
    delete (missing.body as any).spec.selector;
    expect(schemaErrors(missing).join()).toMatch(/selector/);
    const badEnum = clone(statefulSet);
    (badEnum.body as any).spec.podManagementPolicy = 42;
    expect(schemaErrors(badEnum)).not.toEqual([]);
    const unknownKind = parseManifests('apiVersion: apps/v1\nkind: StatefullSet\nmetadata: {name: x}\n', 'typo.yaml')[0] as Manifest;
    expect(schemaErrors(unknownKind).join()).toMatch(/no schema/);
    // TypeScript reports one excess property per literal: one typo per copy.
    const misspelt = clone(statefulSet);
    (misspelt.body as any).spec.template.spec.terminationGracePeriodSecond = 45;
    const misspeltDeep = clone(statefulSet);
    (misspeltDeep.body as any).spec.template.spec.containers[0].readinessProbe.httpGet.paht = '/readyz';
    const errors = strictFieldErrors([misspelt, misspeltDeep]);
    expect(errors.join('\n')).toMatch(/terminationGracePeriodSecond/);
    expect(errors.join('\n')).toMatch(/paht/);
    expect(() => parseManifests('kind: Service\n  bad: indentation: here\n', 'broken.yaml')).toThrow();
  }, 60_000);

  it('k8s - StatefulSet, Services and PodDisruptionBudget are wired together', () => {
    const statefulSet = byKind('StatefulSet');
    const headless = byKind('Service', 'ringstate-peers');
    const clients = byKind('Service', 'ringstate');
    const budget = byKind('PodDisruptionBudget');
    const pod = statefulSet['spec'].template;
    const labels = pod.metadata.labels as Record<string, string>;
    const selects = (selector: Record<string, string>): boolean => Object.entries(selector).every(([key, value]) => labels[key] === value);

    expect(statefulSet['spec'].serviceName).toBe('ringstate-peers');
    expect(headless['spec'].clusterIP).toBe('None');
    expect(headless['spec'].publishNotReadyAddresses).toBe(true);
    expect(selects(statefulSet['spec'].selector.matchLabels)).toBe(true);
    expect(selects(headless['spec'].selector)).toBe(true);
    expect(selects(clients['spec'].selector)).toBe(true);
    expect(selects(budget['spec'].selector.matchLabels)).toBe(true);
    expect(budget['spec'].maxUnavailable).toBe(1);
    expect(statefulSet['spec'].podManagementPolicy).toBe('Parallel');

    const container = pod.spec.containers[0];
    const portNames = new Set((container.ports as Array<{ name: string }>).map((port) => port.name));
    for (const service of [headless, clients]) for (const port of service['spec'].ports) expect(portNames.has(port.targetPort)).toBe(true);
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'client' });
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'client' });
    expect(container.startupProbe.httpGet).toEqual({ path: '/healthz', port: 'client' });
    // The start-up window must cover cluster.bootstrapWaitMs (30 s) for a founding cluster.
    expect(container.startupProbe.periodSeconds * container.startupProbe.failureThreshold).toBeGreaterThanOrEqual(60);

    const preStopSeconds = Number(container.lifecycle.preStop.exec.command[1]);
    expect(pod.spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(preStopSeconds + HANDOVER_WAIT_SECONDS + 10);

    expect(pod.spec.securityContext.runAsNonRoot).toBe(true);
    expect(container.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    const claim = statefulSet['spec'].volumeClaimTemplates[0];
    expect(container.volumeMounts.find((mount: { name: string }) => mount.name === claim.metadata.name)?.mountPath).toBe('/var/lib/ringstate');
    expect(container.envFrom[0].secretRef.name).toBe(byKind('Secret').metadata.name);
  });

  it('k8s - every RINGSTATE_ variable is a real setting, and the pod config loads', () => {
    const known = settingEnvNames();
    expect(known.size).toBeGreaterThan(40);
    const statefulSet = byKind('StatefulSet');
    const secret = byKind('Secret');
    const container = statefulSet['spec'].template.spec.containers[0];
    const env = container.env as Array<{ name: string; value?: string }>;
    const named = [...env.map((entry) => entry.name), ...Object.keys(secret['stringData'])].filter((name) => name.startsWith('RINGSTATE_'));
    expect(named.filter((name) => !known.has(name))).toEqual([]);
    for (const required of ['RINGSTATE_CLUSTER_KEY', 'RINGSTATE_TOKENS_KEYS', 'RINGSTATE_ADMIN_TOKEN']) expect(Object.keys(secret['stringData'])).toContain(required);

    // Resolve the pod's environment as the kubelet does ($(VAR) from earlier entries) for pod 1.
    const resolved: Record<string, string> = { POD_NAME: 'ringstate-1' };
    for (const entry of env) if (entry.value !== undefined) resolved[entry.name] = entry.value.replace(/\$\(([A-Z_]+)\)/g, (_, name: string) => resolved[name] ?? '');
    // The example Secret holds placeholders, refused as they are; filled in, the pod starts.
    const asShipped = { ...resolved, ...secret['stringData'] };
    Object.assign(resolved, fillPlaceholderSecrets(secret['stringData']));
    const dir = mkdtempSync(join(tmpdir(), 'ringstate-k8s-'));
    try {
      const file = join(dir, 'node.json');
      writeFileSync(file, byKind('ConfigMap')['data']['node.json']);
      const configFile = container.args[container.args.indexOf('--config') + 1] as string;
      expect(configFile).toBe(`${statefulSet['spec'].template.spec.containers[0].volumeMounts.find((mount: { name: string }) => mount.name === 'config').mountPath}/node.json`);
      expect(() => loadConfig({ file, env: asShipped })).toThrow(/a placeholder from an example/);
      const config = loadConfig({ file, env: resolved });
      expect(config.nodeId).toBe('ringstate-1');
      expect(config.cluster.members).toContain(config.nodeId);
      expect(config.cluster.members).toHaveLength(statefulSet['spec'].replicas);
      expect(config.advertisedHost).toBe('ringstate-1.ringstate-peers.ringstate.svc.cluster.local:9001');
      expect(config.cluster.bootstrap).toContain(config.cluster.advertisedPeerAddress);
      expect(config.cluster.key).not.toBe('dev-cluster-key-change-me-dev-cluster-key');
      expect(config.admin.token).toBeDefined();
      expect(config.dataDir.startsWith('/var/lib/ringstate/')).toBe(true);
      const ports = new Map((container.ports as Array<{ name: string; containerPort: number }>).map((port) => [port.name, port.containerPort]));
      expect(ports.get('client')).toBe(config.port);
      expect(ports.get('peer')).toBe(config.cluster.peerPort);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('k8s - kubectl kustomize builds the kustomization (when kubectl is installed)', () => {
    const probe = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8', timeout: 10_000 });
    if (probe.status !== 0) {
      console.log('kubectl not installed: kustomization check skipped (the schema checks above still ran)');
      return;
    }
    const built = spawnSync('kubectl', ['kustomize', K8S_DIR], { encoding: 'utf8', timeout: 20_000 });
    expect(built.stderr).toBe('');
    expect(built.status).toBe(0);
    const kinds = parseAllDocuments(built.stdout).map((document) => (document.toJS() as { kind: string }).kind).sort();
    expect(kinds).toEqual(manifests.filter((manifest) => manifest.kind !== 'Secret').map((manifest) => manifest.kind).sort());
  });
});
