/**
 * Reads the deploy files and the source tree for the deploy tests: compose (YAML merge keys
 * resolved, as docker-compose does), the Kubernetes manifests, dashboards, Prometheus config, and
 * non-test sources to check names against.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';

export const root = join(import.meta.dirname, '..', '..');
export const deployDir = join(root, 'deploy');

export const readText = (path: string) => readFileSync(join(root, path), 'utf8');
/** YAML 1.1-style `<<: *anchor` merges are part of compose files; the yaml package needs them asked for. */
export const readYaml = <T = any>(path: string): T => parse(readText(path), { merge: true }) as T;

export interface ComposeService {
  image?: string;
  build?: { context?: string; dockerfile?: string; args?: Record<string, string> };
  profiles?: string[];
  init?: boolean;
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  hostname?: string;
  ports?: string[];
  volumes?: string[];
  networks?: string[];
  restart?: string;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
}
export interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
  networks?: Record<string, unknown>;
}

export const COMPOSE_PATH = 'deploy/compose.yaml';
export const loadCompose = () => readYaml<ComposeFile>(COMPOSE_PATH);

/** `${VAR:-default}` -> default (compose image names are overridable, their defaults are the real ones). */
export function imageDefault(image: string): string {
  return image.replace(/\$\{[A-Z0-9_]+:-([^}]*)\}/g, '$1');
}

/** The compose services that run the Tandem image (their command is a `tandem` subcommand). */
export function tandemServices(c: ComposeFile): Array<[string, ComposeService]> {
  return Object.entries(c.services).filter(([, s]) => s.image !== undefined && imageDefault(s.image).startsWith('tandem:'));
}

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: any;
  data?: Record<string, string>;
  file: string;
}

/** Every object of every YAML file directly in deploy/k8s (addons/ excluded: they need CRDs/Helm). */
export function loadK8s(dir = 'deploy/k8s'): K8sObject[] {
  const out: K8sObject[] = [];
  for (const f of readdirSync(join(root, dir)).filter((n) => n.endsWith('.yaml') && n !== 'kustomization.yaml').sort()) {
    for (const doc of parseAllDocuments(readText(`${dir}/${f}`))) {
      if (doc.errors.length) throw new Error(`${dir}/${f}: ${doc.errors[0]!.message}`);
      const o = doc.toJS();
      if (o) out.push({ ...o, file: f });
    }
  }
  return out;
}

/** Non-test source files under the given folders (relative paths), for name scans. */
export function sourceFiles(dirs: string[], exts = ['.ts']): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (exts.some((e) => n.endsWith(e)) && !n.endsWith('.test.ts') && !n.endsWith('.d.ts')) out.push(relative(root, p));
    }
  };
  for (const d of dirs) walk(join(root, d));
  return out;
}
