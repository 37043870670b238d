import { randomBytes } from 'node:crypto';
/**
 * Offline validation of the Kubernetes manifests in infra/k8s, since no cluster runs here.
 *
 * Two checks, both from the kubernetes-models package (generated from the Kubernetes OpenAPI
 * schema): `validate()` runs the compiled JSON-schema validators (types, required fields,
 * enums), and a TypeScript compile of each manifest as an object literal of the matching
 * interface catches unknown or misspelt fields, which the JSON schemas allow (excess property
 * checks apply at every nesting level, like `kubeconform -strict`).
 */
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Namespace, ConfigMap, Secret, Service } from 'kubernetes-models/v1';
import { StatefulSet } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import ts from 'typescript';
import { parseAllDocuments } from 'yaml';

export const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
export const K8S_DIR = join(ROOT, 'infra/k8s');

export interface Manifest {
  readonly file: string;
  readonly apiVersion: string;
  readonly kind: string;
  readonly body: Record<string, unknown>;
}

interface Model {
  validate(): void;
}

/** apiVersion/kind -> the model class and the module + interface name of its TypeScript type. */
const MODELS: Record<string, { create: (body: any) => Model; module: string; type: string }> = {
  'v1/Namespace': { create: (body) => new Namespace(body), module: 'kubernetes-models/v1', type: 'INamespace' },
  'v1/ConfigMap': { create: (body) => new ConfigMap(body), module: 'kubernetes-models/v1', type: 'IConfigMap' },
  'v1/Secret': { create: (body) => new Secret(body), module: 'kubernetes-models/v1', type: 'ISecret' },
  'v1/Service': { create: (body) => new Service(body), module: 'kubernetes-models/v1', type: 'IService' },
  'apps/v1/StatefulSet': { create: (body) => new StatefulSet(body), module: 'kubernetes-models/apps/v1', type: 'IStatefulSet' },
  'policy/v1/PodDisruptionBudget': { create: (body) => new PodDisruptionBudget(body), module: 'kubernetes-models/policy/v1', type: 'IPodDisruptionBudget' },
};

/** Every Kubernetes object in the YAML files of a directory (kustomization.yaml is not one). */
export function loadManifests(dir = K8S_DIR): Manifest[] {
  const out: Manifest[] = [];
  for (const file of readdirSync(dir).filter((name) => name.endsWith('.yaml') && name !== 'kustomization.yaml').sort()) {
    out.push(...parseManifests(readFileSync(join(dir, file), 'utf8'), file));
  }
  return out;
}

export function parseManifests(text: string, file: string): Manifest[] {
  return parseAllDocuments(text).map((document, index) => {
    if (document.errors.length > 0) throw new Error(`${file} document ${index}: ${document.errors[0]?.message}`);
    const body = document.toJS() as Record<string, unknown> | null;
    if (body === null || typeof body !== 'object') throw new Error(`${file} document ${index} is empty`);
    return { file, apiVersion: String(body['apiVersion']), kind: String(body['kind']), body };
  });
}

/** Schema errors of one manifest (empty when valid). */
export function schemaErrors(manifest: Manifest): string[] {
  const model = MODELS[`${manifest.apiVersion}/${manifest.kind}`];
  if (model === undefined) return [`${manifest.file}: no schema for ${manifest.apiVersion} ${manifest.kind}`];
  try {
    model.create(manifest.body).validate();
    return [];
  } catch (error) {
    return [`${manifest.file} ${manifest.kind}: ${(error as Error).message}`];
  }
}

/** Unknown-field and type errors found by compiling the manifests against the model interfaces. */
export function strictFieldErrors(manifests: readonly Manifest[]): string[] {
  const dir = join(ROOT, '.tmp');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `k8s-strict-${process.pid}-${Date.now()}.ts`);
  const lines: string[] = [];
  manifests.forEach((manifest, index) => {
    const model = MODELS[`${manifest.apiVersion}/${manifest.kind}`];
    if (model === undefined) return;
    lines.push(`import type { ${model.type} as T${index} } from '${model.module}';`);
    lines.push(`// ${manifest.file}`);
    lines.push(`export const m${index}: T${index} = ${JSON.stringify(manifest.body, null, 1)};`);
  });
  writeFileSync(file, lines.join('\n'));
  try {
    const program = ts.createProgram([file], {
      noEmit: true,
      strict: true,
      skipLibCheck: true,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      target: ts.ScriptTarget.ES2022,
      types: [],
    });
    return ts.getPreEmitDiagnostics(program).map((diagnostic) => {
      const text = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
      const at = diagnostic.file === undefined || diagnostic.start === undefined ? '' : `line ${diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start).line + 1}: `;
      return `${at}${text}`;
    });
  } finally {
    rmSync(file, { force: true });
  }
}

/** Environment variable names of every setting, from the generated docs/configuration.md. */
export function settingEnvNames(): Set<string> {
  const text = readFileSync(join(ROOT, 'docs/configuration.md'), 'utf8');
  return new Set([...text.matchAll(/\| `[^`]+` \| `(RINGSTATE_[A-Z0-9_]+)` \|/g)].map((match) => match[1] as string));
}

/**
 * The example files' secrets as an operator fills them in: every value that still holds the
 * `replace-me` placeholder (alone or inside the token keys' JSON) becomes a fresh random secret.
 */
export function fillPlaceholderSecrets(env: Readonly<Record<string, string>>): Record<string, string> {
  const filled: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    filled[name] = value.replace(/replace-me[A-Za-z0-9-]*/g, () => randomBytes(32).toString('hex'));
  }
  return filled;
}
