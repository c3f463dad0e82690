/**
 * Every metric the dashboards, alert rules and autoscalers use is one the code exports today
 * (scanned from services/, histogram _bucket/_sum/_count allowed only on histograms), so a renamed
 * metric breaks this test instead of leaving an empty panel or an HPA that never scales.
 */
import { describe, expect, it } from 'vitest';
import { exportedMetrics, isExported, metricNamesIn } from './code-facts.js';
import { adapterRules, DASHBOARD_FILES, dashboardQueries, loadDashboard, ruleQueries } from './dashboards-and-rules.js';
import { loadK8s } from './repo-files.js';

const exported = exportedMetrics();

describe('metric names in the deploy files', () => {
  it('the source scan finds the metrics docs/metrics.md lists, with their types', () => {
    expect(exported.get('tandem_time_to_first_token_seconds')).toBe('histogram');
    expect(exported.get('tandem_requests_total')).toBe('counter');
    expect(exported.get('tandem_num_requests_running')).toBe('gauge');
    expect(exported.get('tandem_kv_transfer_bytes_total')).toBe('counter');
    expect(exported.get('tandem_worker_kv_cache_usage_perc')).toBe('gauge');
    expect(exported.get('tandem_router_decisions_total')).toBe('counter');
    expect(exported.get('tandem_encoder_cache_misses_total')).toBe('counter');
    expect(exported.get('tandem_encoder_cache_entries')).toBe('gauge');
    expect(isExported('tandem_time_to_first_token_seconds_bucket', exported)).toBe(true);
    expect(isExported('tandem_requests_total_bucket', exported)).toBe(false);
    expect(isExported('tandem_no_such_metric', exported)).toBe(false);
  });

  it('four dashboards: cluster overview, per-pool latency, KV and transfers, vision pool and encoder cache', () => {
    expect(DASHBOARD_FILES).toEqual(['tandem-cluster-overview.json', 'tandem-kv-transfers.json', 'tandem-pool-latency.json', 'tandem-vision.json']);
    const uids = DASHBOARD_FILES.map((f) => loadDashboard(f).uid);
    expect(new Set(uids).size).toBe(uids.length);
    for (const f of DASHBOARD_FILES) {
      const d = loadDashboard(f);
      const ids = d.panels.map((p) => p.id);
      expect(new Set(ids).size, `${f}: panel ids unique`).toBe(ids.length);
      for (const p of d.panels) {
        expect(p.targets.length, `${f} / ${p.title} has a query`).toBeGreaterThan(0);
        // The uid the provisioned Prometheus datasource has (deploy/grafana/provisioning).
        expect(p.datasource.uid).toBe('prometheus');
        for (const t of p.targets) expect(t.datasource.uid).toBe('prometheus');
      }
    }
  });

  it('the dashboards cover the router, the encoder cache and the vision pool', () => {
    const used = new Set(dashboardQueries().flatMap((q) => metricNamesIn(q.expr)));
    for (const m of ['tandem_router_decisions_total', 'tandem_router_prefill_retries_total', 'tandem_router_workers', 'tandem_encoder_cache_hits_total', 'tandem_encoder_cache_misses_total', 'tandem_worker_num_requests_waiting']) {
      expect(used, m).toContain(m);
    }
    expect(dashboardQueries().some((q) => /role="prefill-vision"/.test(q.expr))).toBe(true);
  });

  it('every dashboard query and variable names only exported tandem_ metrics', () => {
    const qs = dashboardQueries();
    expect(qs.length).toBeGreaterThan(20);
    for (const q of qs) {
      const names = metricNamesIn(q.expr);
      expect(names.length, `${q.where}: ${q.expr}`).toBeGreaterThan(0);
      for (const n of names) expect(isExported(n, exported), `${q.where}: ${n} is not exported by services/`).toBe(true);
    }
  });

  it('every alert rule names only exported tandem_ metrics', () => {
    for (const q of ruleQueries()) for (const n of metricNamesIn(q.expr)) expect(isExported(n, exported), `${q.where}: ${n}`).toBe(true);
  });

  it('the Prometheus adapter builds the HPA metrics from exported series, and each HPA metric is one it serves', () => {
    const served = new Set<string>();
    for (const r of adapterRules()) {
      const series = metricNamesIn(r.seriesQuery);
      expect(series.length).toBe(1);
      expect(isExported(series[0]!, exported), `adapter series ${series[0]}`).toBe(true);
      expect(new RegExp(r.name.matches).test(series[0]!)).toBe(true);
      expect(r.metricsQuery).toContain('<<.Series>>');
      served.add(r.name.as);
    }
    const hpas = loadK8s().filter((o) => o.kind === 'HorizontalPodAutoscaler');
    const custom = hpas.flatMap((h) => (h.spec.metrics as Array<{ type: string; pods?: { metric: { name: string } } }>).filter((m) => m.type === 'Pods').map((m) => m.pods!.metric.name));
    expect(custom.length).toBe(4);
    for (const name of custom) expect(served, `HPA metric ${name}`).toContain(name);
  });
});
