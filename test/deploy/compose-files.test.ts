/**
 * deploy/compose.yaml agrees with the code and with the files around it: every Tandem service
 * runs a real `tandem` subcommand with flags the CLI accepts, sets only environment variables the
 * code reads, and its ports line up with its health check, the Prometheus targets and the
 * addresses other services dial; the collector, Prometheus and Grafana configs point at services
 * that exist on the ports they listen on.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliAccepts, flags, listenPorts, valueProblems } from './cli-check.js';
import { envVarsRead, LIBRARY_ENV } from './code-facts.js';
import { deployDir, loadCompose, readText, readYaml, root, sourceFiles, tandemServices, type ComposeService } from './repo-files.js';

const compose = loadCompose();
const tandem = tandemServices(compose);
const svc = (name: string) => compose.services[name]!;
const longRunning = tandem.filter(([, s]) => s.restart !== 'no');
const prometheus = readYaml<{ rule_files: string[]; scrape_configs: Array<{ job_name: string; static_configs: Array<{ targets: string[] }> }> }>('deploy/prometheus.yml');
const targets = prometheus.scrape_configs.flatMap((j) => j.static_configs.flatMap((c) => c.targets));
const otel = readYaml<any>('deploy/otel-collector.yaml');
const portOf = (endpoint: string) => Number(/:(\d+)$/.exec(endpoint)![1]);

/** The HTTP port a Tandem service serves /metrics and health on, when it has one. */
function httpPort(s: ComposeService): number | undefined {
  const p = listenPorts(s.command!);
  return s.command![0] === 'gateway' ? p.get('port') : p.get('metrics-port');
}

/** Where each compose service listens, as other services must dial it. */
function listeners(): Map<string, Set<number>> {
  const m = new Map<string, Set<number>>([
    ['nats', new Set([4222])], // nats image default client port (the command sets no -p)
    ['redis', new Set([6379])],
    ['otel-collector', new Set(Object.values(otel.receivers.otlp.protocols as Record<string, { endpoint: string }>).map((p) => portOf(p.endpoint)))],
    ['jaeger', new Set([4317, 16686, 14269])],
    ['prometheus', new Set([9090])],
  ]);
  for (const [name, s] of tandem) m.set(name, new Set(listenPorts(s.command!).values()));
  return m;
}

describe('compose: Tandem services', () => {
  it('has the generator, router, the three worker pools and the gateway on the Tandem image', () => {
    expect(tandem.map(([n]) => n).sort()).toEqual(['cluster-certs', 'cluster-secret', 'decode-text', 'gateway', 'metrics-key', 'model', 'prefill-text', 'prefill-vision', 'router']);
    for (const [, s] of tandem) {
      expect(s.build, 'built from deploy/Dockerfile').toMatchObject({ context: '..', dockerfile: 'deploy/Dockerfile' });
      expect(s.entrypoint, 'the image entrypoint is `tandem`').toBeUndefined();
    }
  });

  it.each(tandem)('%s: the command is a tandem subcommand with flags and values the CLI accepts', async (_name, s) => {
    expect(Array.isArray(s.command)).toBe(true);
    expect(valueProblems(s.command!)).toEqual([]);
    await cliAccepts(s.command!);
  });

  it.each(tandem)('%s: sets only environment variables the code reads', (_name, s) => {
    const read = envVarsRead();
    for (const k of Object.keys(s.environment ?? {})) expect(read.has(k) || LIBRARY_ENV.has(k), `${k} is read by no code`).toBe(true);
  });

  it('long-running services name themselves for tracing and export where TANDEM_OTLP_ENDPOINT says (off by default)', () => {
    const names = longRunning.map(([, s]) => s.environment?.OTEL_SERVICE_NAME);
    expect(new Set(names).size).toBe(longRunning.length);
    for (const n of names) expect(n).toMatch(/^tandem-/);
    for (const [, s] of longRunning) expect(s.environment?.OTEL_EXPORTER_OTLP_ENDPOINT).toBe('${TANDEM_OTLP_ENDPOINT:-}');
    // The documented value for the observability profile reaches the collector's OTLP/HTTP port.
    expect(readText('deploy/README.md')).toContain(`TANDEM_OTLP_ENDPOINT=http://otel-collector:${portOf(otel.receivers.otlp.protocols.http.endpoint)}`);
  });

  it('every address a Tandem service dials names a compose service on a port it listens on', () => {
    const listen = listeners();
    for (const [name, s] of tandem) {
      for (const [k, v] of Object.entries(s.environment ?? {})) {
        for (const m of String(v).matchAll(/(?:\/\/|^)([a-z][a-z0-9-]*):(\d+)/g)) {
          expect(listen.get(m[1]!), `${name} ${k}=${v}: no service ${m[1]}`).toBeDefined();
          expect([...listen.get(m[1]!)!], `${name} ${k}=${v}`).toContain(Number(m[2]));
        }
      }
    }
    expect(svc('gateway').environment?.TANDEM_ROUTER_ADDR).toBe(`router:${listenPorts(svc('router').command!).get('port')}`);
    // TLS to Redis, trusting the CA `cluster-certs` made (its certificate names `redis`).
    expect(svc('router').environment?.TANDEM_REDIS_URL).toBe('rediss://redis:6379');
    expect(svc('router').environment?.TANDEM_REDIS_TLS_CA_FILE).toBe('/run/tandem/tls/ca.crt');
    expect(svc('redis').command).toEqual(expect.arrayContaining(['--port', '0', '--tls-port', '6379', '--tls-cert-file', '/run/tandem/tls/tandem.crt']));
    // TLS to NATS, trusting the CA `cluster-certs` made (its certificate names `nats`).
    for (const [, s] of longRunning.filter(([, s]) => s.command![0] !== 'gateway')) {
      expect(s.environment?.TANDEM_NATS_URL).toBe('tls://nats:4222');
      expect(s.environment?.TANDEM_NATS_TLS_CA_FILE).toBe('/run/tandem/tls/ca.crt');
    }
    expect(svc('cluster-certs').command).toContain('router,prefill-vision,prefill-text,decode-text,nats,redis,localhost,127.0.0.1');
    expect(svc('nats').command).toEqual(expect.arrayContaining(['--tls', '--tlscert', '/run/tandem/tls/tandem.crt', '--tlskey', '/run/tandem/tls/tandem.key']));
    expect(svc('nats').depends_on?.['cluster-certs']).toEqual({ condition: 'service_completed_successfully' });
  });

  it('listens where others can reach it: gateway and router on 0.0.0.0, workers on their own hostname', () => {
    expect(flags(svc('gateway').command!).get('host')).toBe('0.0.0.0');
    expect(flags(svc('router').command!).get('host')).toBe('0.0.0.0');
    for (const [name, s] of tandem.filter(([, s]) => s.command![0] === 'worker')) {
      // A worker advertises --host to the router, so it must be a name others resolve to it.
      expect(flags(s.command!).get('host')).toBe(name);
      expect(s.hostname).toBe(name);
    }
  });

  it('health checks probe the port each service listens on', () => {
    for (const [name, s] of longRunning) {
      const test = s.healthcheck!.test;
      expect(test.slice(0, 3), name).toEqual(['CMD', 'node', '/app/deploy/healthcheck.mjs']);
      const [kind, port, path] = test.slice(3);
      expect([...listenPorts(s.command!).values()], name).toContain(Number(port));
      if (kind === 'http') expect(Number(port)).toBe(httpPort(s));
      if (s.command![0] === 'gateway') expect(path).toBe('/ready');
      if (s.command![0] === 'worker') expect(path).toBe('/health');
    }
  });

  it('Prometheus scrapes every Tandem process that serves /metrics, on that port', () => {
    const scraped = longRunning.filter(([, s]) => httpPort(s) !== undefined);
    expect(scraped.map(([n]) => n).sort()).toEqual(['decode-text', 'gateway', 'prefill-text', 'prefill-vision', 'router']);
    for (const [name, s] of scraped) expect(targets).toContain(`${name}:${httpPort(s)}`);
    for (const t of targets) {
      const host = t.split(':')[0]!;
      if (host !== '127.0.0.1') expect(compose.services[host], `scrape target ${t}`).toBeDefined();
    }
  });

  it('gateway and workers serve one model name, and the gateway waits for every worker pool to be healthy', () => {
    const servedBy = longRunning.filter(([, s]) => flags(s.command!).has('model')).map(([name, s]) => [name, flags(s.command!).get('served-model-name')] as const);
    expect(servedBy.map(([n]) => n).sort()).toEqual(['decode-text', 'gateway', 'prefill-text', 'prefill-vision']);
    expect(new Set(servedBy.map(([, m]) => m)).size).toBe(1);
    for (const [name, s] of tandem.filter(([, s]) => s.command![0] === 'worker')) expect(svc('gateway').depends_on?.[name], name).toEqual({ condition: 'service_healthy' });
  });

  it('the gateway port is published on loopback, by default on the same number', () => {
    const p = listenPorts(svc('gateway').command!).get('port');
    expect(svc('gateway').ports).toContain(`127.0.0.1:\${TANDEM_GATEWAY_PORT:-${p}}:${p}`);
  });

  it('every published port listens on 127.0.0.1 only, and none takes the host NATS or Redis port', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      for (const port of s.ports ?? []) {
        expect(String(port), name).toMatch(/^127\.0\.0\.1:/);
        expect(String(port), name).not.toMatch(/^127\.0\.0\.1:(?:\$\{[A-Z_]+:-)?(4222|6379)\b/);
      }
    }
  });

  it('plain `up` is the API alone: observability is a profile, and nothing outside it depends on it', () => {
    const observability = ['otel-collector', 'jaeger', 'prometheus', 'grafana'];
    for (const n of observability) expect(svc(n).profiles, n).toContain('observability');
    expect(svc('prometheus').profiles).toContain('metrics');
    for (const [name, s] of Object.entries(compose.services).filter(([, s]) => !s.profiles)) {
      for (const dep of Object.keys(s.depends_on ?? {})) expect(observability, `${name} depends on ${dep}`).not.toContain(dep);
    }
  });

  it('every image is overridable and defaults to the official one', () => {
    const defaults: Record<string, string> = { nats: 'nats:2.10-alpine', redis: 'redis:7-alpine', prometheus: 'prom/prometheus:v2.53.0' };
    for (const [name, image] of Object.entries(defaults)) expect(svc(name).image, name).toBe(`\${TANDEM_${name.toUpperCase()}_IMAGE:-${image}}`);
    for (const [name, s] of Object.entries(compose.services)) expect(s.image, name).toMatch(/^\$\{TANDEM_(?:[A-Z_]+_)?IMAGE:-[^}]+\}$/);
    for (const [name, s] of tandem) {
      expect(s.build?.args, name).toEqual({ BUILD_IMAGE: '${TANDEM_BUILD_IMAGE:-node:20-bookworm}', RUNTIME_IMAGE: '${TANDEM_RUNTIME_IMAGE:-node:20-bookworm-slim}' });
      // Tandem processes exit within ~1.3 s of SIGTERM; an init forwards it when PID 1.
      expect(s.init, name).toBe(true);
    }
    // A plain redis-server (not the official image) refuses the router in protected mode.
    expect(svc('redis').command).toEqual(expect.arrayContaining(['--protected-mode', 'no']));
  });

  it('the model volume holds what the generator writes and the others read', () => {
    const gen = flags(svc('model').command!).get('out')!;
    expect(svc('model').volumes).toContain('models:/models');
    expect(compose.volumes).toHaveProperty('models');
    for (const [name, s] of longRunning.filter(([, s]) => flags(s.command!).has('model'))) {
      expect(flags(s.command!).get('model'), name).toBe(gen);
      expect(s.volumes, name).toContain('models:/models:ro');
      expect(s.depends_on?.model, name).toEqual({ condition: 'service_completed_successfully' });
    }
  });

  it('every router, worker and gateway reads the cluster secret the one-shot service writes, by path, after it ran', () => {
    const out = flags(svc('cluster-secret').command!).get('out')!;
    expect(svc('cluster-secret').command![0]).toBe('gen-secret');
    expect(flags(svc('cluster-secret').command!).has('if-absent')).toBe(true);
    expect(svc('cluster-secret').restart).toBe('no');
    const [volume, dir] = svc('cluster-secret').volumes!.find((v) => out.startsWith(v.split(':')[1]! + '/'))!.split(':');
    expect(compose.volumes).toHaveProperty(volume!);
    for (const [name, s] of longRunning) {
      expect(s.environment?.TANDEM_CLUSTER_SECRET_FILE, name).toBe(out);
      expect(s.volumes, name).toContain(`${volume}:${dir}:ro`);
      expect(s.depends_on?.['cluster-secret'], name).toEqual({ condition: 'service_completed_successfully' });
      // Authenticated: nothing runs --insecure, and the secret is never a value in the file.
      expect(s.command, name).not.toContain('--insecure');
      expect(s.environment?.TANDEM_INSECURE, name).toBeUndefined();
    }
  });
});

describe('compose: the metrics key', () => {
  const out = flags(svc('metrics-key').command!).get('out')!;
  const [volume, dir] = svc('metrics-key').volumes!.find((v) => out.startsWith(v.split(':')[1]! + '/'))!.split(':');

  it('a one-shot writes it (group-readable, kept across restarts); every router, worker and gateway reads it by path from that volume, after it ran', () => {
    expect(svc('metrics-key').command!.slice(0, 1)).toEqual(['gen-secret']);
    expect(svc('metrics-key').command).toEqual(expect.arrayContaining(['--if-absent', '--group-readable']));
    expect(svc('metrics-key').restart).toBe('no');
    expect(compose.volumes).toHaveProperty(volume!);
    for (const [name, s] of longRunning) {
      expect(s.environment?.TANDEM_METRICS_API_KEY_FILE, name).toBe(out);
      expect(s.environment?.TANDEM_METRICS_API_KEY, name).toBeUndefined();
      expect(s.volumes, name).toContain(`${volume}:${dir}:ro`);
      expect(s.depends_on?.['metrics-key'], name).toEqual({ condition: 'service_completed_successfully' });
      expect(s.command!.join(' '), name).not.toMatch(/--metrics-api-key\b/);
    }
    // The Dockerfile makes the volume's directory group-readable for Prometheus.
    expect(readText('deploy/Dockerfile')).toMatch(new RegExp(`chmod 750 ${dir}`));
  });

  it('Prometheus mounts it, reads it through group 1000, and sends it to every Tandem target', () => {
    const prom = svc('prometheus');
    expect(prom.volumes).toContain(`${volume}:${dir}:ro`);
    expect((prom as { group_add?: string[] }).group_add).toEqual(['1000']);
    expect(prom.depends_on?.['metrics-key']).toEqual({ condition: 'service_completed_successfully' });
    const scrape = readYaml<{ scrape_configs: Array<{ job_name: string; authorization?: { type: string; credentials_file: string } }> }>('deploy/prometheus.yml').scrape_configs;
    for (const job of ['gateway', 'router', 'prefill-vision', 'prefill-text', 'decode-text']) {
      expect(scrape.find((j) => j.job_name === job)?.authorization, job).toEqual({ type: 'Bearer', credentials_file: out });
    }
  });
});

describe('compose: NATS users (deploy/nats/nats-server.conf)', () => {
  const natsUsers = [...readText('deploy/nats/nats-server.conf').matchAll(/^\s*user:\s*([a-z-]+)\s*$/gm)].map((m) => m[1]!);
  const nats = svc('nats');
  const creds = svc('nats-credentials');

  it('nats runs the config through start.sh, after the one-shot wrote the passwords', () => {
    expect(nats.entrypoint).toEqual(['sh', '/etc/tandem-nats/start.sh']);
    expect(nats.volumes).toContain('./nats:/etc/tandem-nats:ro');
    expect(nats.command!.slice(0, 2)).toEqual(['-c', '/etc/tandem-nats/nats-server.conf']);
    expect(existsSync(join(deployDir, 'nats', 'nats-server.conf'))).toBe(true);
    expect(nats.depends_on?.['nats-credentials']).toEqual({ condition: 'service_completed_successfully' });
    expect(creds.entrypoint).toEqual(['sh', '/etc/tandem-nats/gen-passwords.sh']);
    expect(creds.restart).toBe('no');
    expect(creds.image).toBe(nats.image);
  });

  it('each router and worker connects as its own user, with the password from a volume only it (and NATS) mounts', () => {
    const components = longRunning.filter(([, s]) => s.command![0] !== 'gateway');
    expect(components.map(([n]) => n).sort()).toEqual([...natsUsers].sort());
    for (const [name, s] of components) {
      expect(s.environment?.TANDEM_NATS_USER, name).toBe(name);
      const file = s.environment!.TANDEM_NATS_PASSWORD_FILE!;
      const mount = s.volumes!.find((v) => file.startsWith(`${v.split(':')[1]}/`))!;
      const [volume] = mount.split(':');
      expect(mount, name).toBe(`${volume}:/run/nats:ro`);
      expect(compose.volumes).toHaveProperty(volume!);
      // Written by the one-shot, read by NATS where start.sh looks for this user's password.
      expect(creds.volumes).toContain(`${volume}:/run/nats-passwords/${name}`);
      expect(creds.command).toContain(`/run/nats-passwords/${name}`);
      expect(nats.volumes).toContain(`${volume}:/run/nats-passwords/${name}:ro`);
      // No other Tandem service mounts it.
      for (const [other, o] of tandem.filter(([n]) => n !== name)) expect(o.volumes ?? [], `${other} mounts ${volume}`).not.toContainEqual(expect.stringMatching(new RegExp(`^${volume}:`)));
    }
    // The gateway does not use NATS: no user, no password.
    expect(svc('gateway').environment?.TANDEM_NATS_USER).toBeUndefined();
    expect(svc('gateway').volumes!.some((v) => v.startsWith('nats-password'))).toBe(false);
  });
});

describe('compose: Redis users (deploy/redis/start.sh)', () => {
  const redis = svc('redis');
  const creds = svc('redis-credentials');
  const acl = readText('deploy/redis/start.sh');

  it('redis runs start.sh (default user off, a user per component), after the one-shot wrote the passwords', () => {
    expect(redis.entrypoint).toEqual(['sh', '/etc/tandem-redis/start.sh']);
    expect(redis.volumes).toContain('./redis:/etc/tandem-redis:ro');
    expect(acl).toMatch(/^user default off$/m);
    expect(redis.depends_on?.['redis-credentials']).toEqual({ condition: 'service_completed_successfully' });
    expect(creds.entrypoint).toEqual(['sh', '/etc/tandem-nats/gen-passwords.sh']);
    expect(creds.restart).toBe('no');
    // The healthcheck's user may only PING, and needs no password.
    expect(redis.healthcheck?.test).toEqual(['CMD', 'redis-cli', '--tls', '--cacert', '/run/tandem/tls/ca.crt', '--user', 'health', '--pass', 'health', '--no-auth-warning', 'ping']);
    expect(acl).toMatch(/^user health on nopass resetchannels -@all \+ping$/m);
  });

  it('the router and the gateway connect as their own users, with the password from a volume only they (and Redis) mount', () => {
    for (const name of ['router', 'gateway']) {
      const s = svc(name);
      expect(s.environment?.TANDEM_REDIS_USER, name).toBe(name);
      expect(s.environment?.TANDEM_REDIS_PASSWORD_FILE, name).toBe('/run/redis/password');
      const volume = `redis-password-${name}`;
      expect(s.volumes, name).toContain(`${volume}:/run/redis:ro`);
      expect(compose.volumes).toHaveProperty(volume);
      expect(creds.volumes).toContain(`${volume}:/run/redis-passwords/${name}`);
      expect(creds.command).toContain(`/run/redis-passwords/${name}`);
      expect(redis.volumes).toContain(`${volume}:/run/redis-passwords/${name}:ro`);
      expect(acl).toMatch(new RegExp(`^user ${name} on #\\$${name} `, 'm'));
      for (const [other, o] of tandem.filter(([n]) => n !== name)) expect(o.volumes ?? [], `${other} mounts ${volume}`).not.toContainEqual(expect.stringMatching(new RegExp(`^${volume}:`)));
    }
    // Workers do not use Redis.
    for (const [name, s] of tandem.filter(([n]) => !['router', 'gateway'].includes(n))) expect(s.environment?.TANDEM_REDIS_URL, name).toBeUndefined();
  });
});

describe('compose: ordering and network', () => {
  it('depends_on uses conditions the dependency can meet', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      for (const [dep, { condition }] of Object.entries(s.depends_on ?? {})) {
        const d = compose.services[dep];
        expect(d, `${name} depends on missing ${dep}`).toBeDefined();
        if (condition === 'service_healthy') expect(d!.healthcheck, `${name} waits for ${dep} to be healthy`).toBeDefined();
        else if (condition === 'service_completed_successfully') expect(d!.restart, `${dep} must be one-shot`).toBe('no');
        else expect(condition).toBe('service_started');
      }
    }
    expect(svc('router').depends_on).toMatchObject({ nats: { condition: 'service_healthy' }, redis: { condition: 'service_healthy' } });
    expect(svc('gateway').depends_on).toMatchObject({ router: { condition: 'service_healthy' } });
  });

  it('every service is on the one tandem network', () => {
    expect(Object.keys(compose.networks ?? {})).toEqual(['tandem']);
    for (const [name, s] of Object.entries(compose.services)) expect(s.networks, name).toEqual(['tandem']);
  });
});

describe('compose: tracing and dashboards wiring', () => {
  it('the collector receives OTLP and forwards traces to Jaeger over OTLP/gRPC', () => {
    expect(otel.service.pipelines.traces.receivers).toEqual(['otlp']);
    const exporters = otel.service.pipelines.traces.exporters as string[];
    expect(exporters.length).toBeGreaterThan(0);
    for (const e of exporters) expect(otel.exporters[e].endpoint).toBe('jaeger:4317');
    expect(svc('jaeger').environment).toMatchObject({ COLLECTOR_OTLP_ENABLED: 'true' });
    expect(svc('otel-collector').volumes).toContain('./otel-collector.yaml:/etc/otelcol/config.yaml:ro');
    expect(targets).toContain(`otel-collector:${portOf(otel.service.telemetry.metrics.address)}`);
  });

  it('Prometheus loads the alert rules from where compose mounts them', () => {
    const mount = svc('prometheus').volumes!.find((v) => v.startsWith('./prometheus-rules.yml:'))!.split(':')[1]!;
    const glob = new RegExp(`^${prometheus.rule_files[0]!.replace(/[.]/g, '\\.').replace('*', '[^/]*')}$`);
    expect(mount).toMatch(glob);
    expect(svc('prometheus').volumes).toContain('./prometheus.yml:/etc/prometheus/prometheus.yml:ro');
  });

  it('Grafana gets its datasources and dashboards from the mounted provisioning files', () => {
    const mounts = new Map(svc('grafana').volumes!.map((v) => v.split(':') as [string, string]));
    expect(mounts.get('./grafana/provisioning')).toBe('/etc/grafana/provisioning');
    const ds = readYaml<any>('deploy/grafana/provisioning/datasources/tandem.yaml').datasources as Array<{ uid: string; type: string; url: string }>;
    expect(ds.find((d) => d.type === 'prometheus')).toMatchObject({ uid: 'prometheus', url: 'http://prometheus:9090' });
    expect(ds.find((d) => d.type === 'jaeger')).toMatchObject({ url: 'http://jaeger:16686' });
    const provider = readYaml<any>('deploy/grafana/provisioning/dashboards/tandem.yaml').providers[0];
    expect(mounts.get('./grafana/dashboards')).toBe(provider.options.path);
    const home = svc('grafana').environment!.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH!;
    expect(home.startsWith(provider.options.path + '/')).toBe(true);
    expect(existsSync(join(deployDir, 'grafana', 'dashboards', home.slice(provider.options.path.length + 1)))).toBe(true);
  });
});

describe('Dockerfile and build context', () => {
  const dockerfile = readText('deploy/Dockerfile');
  const ignore = readText('.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));

  it('is multi-stage: a full bookworm build stage and a slim runtime with the UCX library', () => {
    // Base images are build arguments whose defaults are the official Node images.
    expect(dockerfile).toMatch(/^ARG BUILD_IMAGE=node:20-bookworm$/m);
    expect(dockerfile).toMatch(/^ARG RUNTIME_IMAGE=node:20-bookworm-slim$/m);
    expect(dockerfile).toMatch(/^FROM \$\{BUILD_IMAGE\} AS build$/m);
    expect(dockerfile).toMatch(/^FROM \$\{RUNTIME_IMAGE\} AS runtime$/m);
    expect(dockerfile).toMatch(/g\+\+ make python3 libucx-dev/);
    expect(dockerfile).toMatch(/install -y --no-install-recommends libucx0/);
    expect(dockerfile).toMatch(/npm ci/);
    expect(dockerfile).toMatch(/npm prune --omit=dev/);
    expect(dockerfile).toMatch(/ENTRYPOINT \["node", "\/app\/bin\/tandem\.js"\]/);
  });

  it('copies every folder tsconfig compiles, and nothing it copies is excluded by .dockerignore', () => {
    const tsconfig = JSON.parse(readText('tsconfig.json')) as { include: string[] };
    const copied = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1]!.split(/\s+/));
    // test/fixtures is compiled for the tests only; no file outside test/ imports it.
    for (const inc of tsconfig.include.filter((i) => !i.startsWith('test/'))) expect(copied, `tsconfig includes ${inc}`).toContain(inc.split('/')[0]);
    for (const f of sourceFiles(['services', 'tools', 'loadtest', 'kernels/ts'])) {
      expect(readText(f), `${f} imports test fixtures, which the image does not copy`).not.toMatch(/from '[^']*test\/fixtures\//);
    }
    for (const src of copied) {
      expect(existsSync(join(root, src)), `${src} exists`).toBe(true);
      const excluded = ignore.filter((p) => !p.startsWith('!') && (src === p || src.startsWith(p + '/'))).length > 0;
      const reincluded = ignore.includes(`!${src}`);
      expect(!excluded || reincluded, `${src} is excluded by .dockerignore`).toBe(true);
    }
  });

  it('exposes every port the compose Tandem services listen on', () => {
    const exposed = /^EXPOSE (.+)$/m.exec(dockerfile)![1]!.split(/\s+/).map(Number);
    for (const [, s] of tandem) for (const p of listenPorts(s.command!).values()) expect(exposed).toContain(p);
  });
});
