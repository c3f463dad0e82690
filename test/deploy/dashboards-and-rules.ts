/** Every PromQL expression the deploy files hold, with where it came from (for messages). */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { deployDir, readText, readYaml } from './repo-files.js';

export interface Query {
  where: string;
  expr: string;
}

export const DASHBOARD_FILES = readdirSync(join(deployDir, 'grafana', 'dashboards')).filter((f) => f.endsWith('.json')).sort();

export const loadDashboard = (file: string) => JSON.parse(readText(`deploy/grafana/dashboards/${file}`)) as {
  uid: string;
  title: string;
  panels: Array<{ id: number; title: string; datasource: { uid: string }; targets: Array<{ expr: string; datasource: { uid: string } }> }>;
  templating: { list: Array<{ name: string; query: { query: string } }> };
};

export function dashboardQueries(): Query[] {
  return DASHBOARD_FILES.flatMap((f) => {
    const d = loadDashboard(f);
    return [
      ...d.panels.flatMap((p) => p.targets.map((t) => ({ where: `${f} / ${p.title}`, expr: t.expr }))),
      ...d.templating.list.map((v) => ({ where: `${f} / variable ${v.name}`, expr: v.query.query })),
    ];
  });
}

export function ruleQueries(): Query[] {
  const rules = readYaml<{ groups: Array<{ rules: Array<{ alert?: string; record?: string; expr: string }> }> }>('deploy/prometheus-rules.yml');
  return rules.groups.flatMap((g) => g.rules.map((r) => ({ where: `prometheus-rules.yml / ${r.alert ?? r.record}`, expr: r.expr })));
}

export interface AdapterRule {
  seriesQuery: string;
  name: { matches: string; as: string };
  metricsQuery: string;
}

export const adapterRules = () => readYaml<{ rules: { custom: AdapterRule[] } }>('deploy/k8s/addons/prometheus-adapter-values.yaml').rules.custom;
