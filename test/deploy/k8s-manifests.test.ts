/**
 * deploy/k8s holds consistent manifests: selectors match, Services and probes name ports the
 * containers declare, Tandem containers run `tandem` subcommands the CLI accepts with only
 * environment the code reads, ports agree across args, probes, Services and scrape annotations,
 * and each pool has a Deployment and an HPA on its own metric. (No cluster here: structure and
 * cross-references are what can be proven.)
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliAccepts, flags, listenPorts, valueProblems } from './cli-check.js';
import { envVarsRead, LIBRARY_ENV } from './code-facts.js';
import { deployDir, loadK8s, readText, readYaml, type K8sObject } from './repo-files.js';

const objects = loadK8s();
const byKind = (kind: string) => objects.filter((o) => o.kind === kind);
const named = (kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name)!;
const workloads = objects.filter((o) => ['Deployment', 'StatefulSet', 'Job'].includes(o.kind));
const podSpec = (o: K8sObject) => o.spec.template.spec;
const configMap = named('ConfigMap', 'tandem-config').data!;
const POOLS = ['gateway', 'router', 'prefill-vision', 'prefill-text', 'decode-text'];

interface Container {
  name: string;
  image: string;
  args?: string[];
  command?: string[];
  env?: Array<{ name: string; value?: string; valueFrom?: any }>;
  envFrom?: Array<{ configMapRef?: { name: string } }>;
  ports?: Array<{ name: string; containerPort: number }>;
  livenessProbe?: any;
  readinessProbe?: any;
  startupProbe?: any;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  volumeMounts?: Array<{ name: string; mountPath: string }>;
}
const containers = (o: K8sObject): Container[] => podSpec(o).containers;
const tandemContainers = workloads.flatMap((o) => containers(o).filter((c) => c.image.startsWith('tandem:')).map((c) => [o.metadata.name, c, o] as const));

/** Container args with `$(VAR)` expanded to a sample value, as the kubelet would expand them. */
function expandedArgs(c: Container): string[] {
  const sample: Record<string, string> = { POD_IP: '10.0.0.7', POD_NAME: 'prefill-text-7d9c-abcde' };
  return c.args!.map((a) => a.replace(/\$\((\w+)\)/g, (_, v: string) => sample[v] ?? `unexpanded-${v}`));
}

function portNumber(c: Container, port: string | number): number {
  if (typeof port === 'number') return port;
  const p = c.ports?.find((x) => x.name === port);
  expect(p, `${c.name} declares port ${port}`).toBeDefined();
  return p!.containerPort;
}

const probePort = (probe: any) => probe.httpGet?.port ?? probe.tcpSocket?.port;

describe('k8s: files and objects', () => {
  it('kustomization lists every manifest in deploy/k8s and puts them in the tandem namespace', () => {
    const k = readYaml<{ namespace: string; resources: string[] }>('deploy/k8s/kustomization.yaml');
    const files = readdirSync(join(deployDir, 'k8s')).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
    expect([...k.resources].sort()).toEqual(files.sort());
    expect(k.namespace).toBe('tandem');
    for (const o of objects) if (o.kind !== 'Namespace') expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe('tandem');
    expect(named('Namespace', 'tandem')).toBeDefined();
  });

  it('a Deployment per pool, NATS and Redis StatefulSets, a model PVC and generator Job', () => {
    expect(byKind('Deployment').map((d) => d.metadata.name).sort()).toEqual([...POOLS].sort());
    expect(byKind('StatefulSet').map((d) => d.metadata.name).sort()).toEqual(['nats', 'redis']);
    expect(byKind('Job').map((d) => d.metadata.name)).toEqual(['tandem-gen-model']);
    expect(byKind('PersistentVolumeClaim').map((d) => d.metadata.name)).toEqual(['tandem-models']);
  });

  it('workload selectors match their pod template labels', () => {
    for (const w of workloads.filter((o) => o.kind !== 'Job')) {
      expect(w.spec.template.metadata.labels, `${w.kind}/${w.metadata.name}`).toMatchObject(w.spec.selector.matchLabels);
    }
  });

  it('every Service selects exactly one workload and targets ports its containers declare', () => {
    for (const s of byKind('Service')) {
      const matches = workloads.filter((w) => Object.entries(s.spec.selector as Record<string, string>).every(([k, v]) => w.spec.template.metadata.labels?.[k] === v));
      expect(matches.map((m) => m.metadata.name), `Service ${s.metadata.name}`).toHaveLength(1);
      const declared = containers(matches[0]!).flatMap((c) => c.ports ?? []);
      for (const p of s.spec.ports as Array<{ name: string; port: number; targetPort: string | number }>) {
        expect(declared.some((d) => d.name === p.targetPort || d.containerPort === p.targetPort), `Service ${s.metadata.name} port ${p.name}`).toBe(true);
      }
    }
  });

  it('every container has CPU and memory requests and limits; long-running ones liveness and readiness probes on declared ports', () => {
    for (const w of workloads) {
      for (const c of containers(w)) {
        for (const kind of ['requests', 'limits'] as const) expect(Object.keys(c.resources?.[kind] ?? {}).sort(), `${w.metadata.name}/${c.name} ${kind}`).toEqual(['cpu', 'memory']);
        if (w.kind === 'Job') continue;
        for (const probe of [c.livenessProbe, c.readinessProbe]) {
          expect(probe, `${w.metadata.name}/${c.name} probe`).toBeDefined();
          if (!probe.exec) portNumber(c, probePort(probe));
        }
      }
    }
  });

  it('volumes name claims that exist', () => {
    const claims = new Set(byKind('PersistentVolumeClaim').map((p) => p.metadata.name));
    for (const w of workloads) for (const v of podSpec(w).volumes ?? []) if (v.persistentVolumeClaim) expect(claims).toContain(v.persistentVolumeClaim.claimName);
  });
});

describe('k8s: Tandem containers', () => {
  it.each(tandemContainers.map(([name, c]) => [name, c] as const))('%s: args are a tandem subcommand with flags and values the CLI accepts', async (_name, c) => {
    expect(c.command, 'the image entrypoint is `tandem`').toBeUndefined();
    const argv = expandedArgs(c);
    expect(argv.join(' ')).not.toMatch(/unexpanded-/);
    expect(valueProblems(argv)).toEqual([]);
    await cliAccepts(argv);
  });

  it.each(tandemContainers.map(([name, c]) => [name, c] as const))('%s: environment is read by the code, $(VAR) args are declared env', (_name, c) => {
    const read = envVarsRead();
    const inArgs = new Set((c.args ?? []).flatMap((a) => [...a.matchAll(/\$\((\w+)\)/g)].map((m) => m[1]!)));
    const envNames = (c.env ?? []).map((e) => e.name);
    for (const v of inArgs) expect(envNames, `$(${v}) in args`).toContain(v);
    for (const n of envNames) expect(read.has(n) || LIBRARY_ENV.has(n) || inArgs.has(n), `${n} is read by no code`).toBe(true);
    for (const ref of c.envFrom ?? []) expect(ref.configMapRef?.name).toBe('tandem-config');
  });

  it('ConfigMap keys are variables the code reads, pointing at the Services that exist', () => {
    const read = envVarsRead();
    for (const k of Object.keys(configMap)) expect(read.has(k) || LIBRARY_ENV.has(k), k).toBe(true);
    const router = named('Deployment', 'router');
    const routerPort = listenPorts(containers(router)[0]!.args!).get('port');
    const svcPort = (name: string) => (named('Service', name).spec.ports as Array<{ port: number; targetPort: string }>)[0]!;
    expect(configMap.TANDEM_ROUTER_ADDR).toBe(`router:${svcPort('router').port}`);
    expect(portNumber(containers(router)[0]!, svcPort('router').targetPort)).toBe(routerPort);
    expect(configMap.TANDEM_NATS_URL).toBe(`tls://nats:${svcPort('nats').port}`);
    expect(configMap.TANDEM_REDIS_URL).toBe(`rediss://redis:${svcPort('redis').port}`);
  });

  it('listen ports are declared container ports; HTTP probes and scrape annotations use the /metrics port', () => {
    for (const [name, c, w] of tandemContainers.filter(([, , w]) => w.kind === 'Deployment')) {
      const argv = expandedArgs(c);
      const ports = listenPorts(argv);
      for (const p of ports.values()) expect(c.ports!.map((x) => x.containerPort), `${name} listens on ${p}`).toContain(p);
      const http = argv[0] === 'gateway' ? ports.get('port') : ports.get('metrics-port');
      for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe].filter(Boolean)) {
        if (probe.httpGet) {
          expect(portNumber(c, probe.httpGet.port), name).toBe(http);
          expect(['/health', '/ready']).toContain(probe.httpGet.path);
        } else if (probe.exec) {
          // The image's probe script (it sends the metrics key /ready needs), on the HTTP port.
          const [node, script, kind, port, path] = probe.exec.command as string[];
          expect([node, script, kind], name).toEqual(['node', '/app/deploy/healthcheck.mjs', 'http']);
          expect(Number(port), name).toBe(http);
          expect(['/health', '/ready']).toContain(path);
        } else {
          expect([...ports.values()]).toContain(portNumber(c, probe.tcpSocket.port));
        }
      }
      const ann = w.spec.template.metadata.annotations;
      if (http !== undefined) expect(ann, `${name} is scraped`).toMatchObject({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(http), 'prometheus.io/path': '/metrics' });
    }
  });

  it('workers advertise their pod IP and name; gateway and router listen on all interfaces', () => {
    for (const role of ['prefill-vision', 'prefill-text', 'decode-text']) {
      const c = containers(named('Deployment', role))[0]!;
      const f = flags(c.args!);
      expect(f.get('role')).toBe(role);
      expect(f.get('host')).toBe('$(POD_IP)');
      expect(f.get('id')).toBe('$(POD_NAME)');
      expect(c.env!.find((e) => e.name === 'POD_IP')!.valueFrom).toEqual({ fieldRef: { fieldPath: 'status.podIP' } });
      expect(c.env!.find((e) => e.name === 'POD_NAME')!.valueFrom).toEqual({ fieldRef: { fieldPath: 'metadata.name' } });
    }
    for (const d of ['gateway', 'router']) expect(flags(containers(named('Deployment', d))[0]!.args!).get('host')).toBe('0.0.0.0');
  });

  it('the router serves /metrics on a declared port that its Service and the PodMonitor reach', () => {
    const c = containers(named('Deployment', 'router'))[0]!;
    const port = listenPorts(c.args!).get('metrics-port');
    expect(port).toBeDefined();
    const metrics = c.ports!.find((p) => p.containerPort === port)!;
    expect((named('Service', 'router').spec.ports as Array<{ targetPort: string }>).map((p) => p.targetPort)).toContain(metrics.name);
    const monitor = readYaml<any>('deploy/k8s/addons/podmonitor.yaml');
    expect((monitor.spec.podMetricsEndpoints as Array<{ port: string }>).map((e) => e.port)).toContain(metrics.name);
    expect(named('Deployment', 'router').spec.template.metadata.labels).toMatchObject(monitor.spec.selector.matchLabels);
  });

  it('the Job generates a vision-language checkpoint (prefill-vision workers refuse a text-only one)', () => {
    expect(flags(containers(named('Job', 'tandem-gen-model'))[0]!.args!).get('family')).toBe('ernie4_5_vl_moe');
  });

  it('the Job writes the checkpoint the pods read, and pods wait for its config.json (written last)', () => {
    const out = flags(containers(named('Job', 'tandem-gen-model'))[0]!.args!).get('out')!;
    for (const d of ['gateway', 'prefill-vision', 'prefill-text', 'decode-text']) {
      const w = named('Deployment', d);
      expect(flags(containers(w)[0]!.args!).get('model'), d).toBe(out);
      const wait = podSpec(w).initContainers.find((c: Container) => c.name === 'wait-for-model');
      expect(wait.command.join(' '), d).toContain(`${out}/config.json`);
    }
  });

  it('each pool but the router has an HPA on its own metric, targeting its Deployment', () => {
    const hpas = byKind('HorizontalPodAutoscaler');
    expect(hpas.map((h) => h.spec.scaleTargetRef.name).sort()).toEqual(['decode-text', 'gateway', 'prefill-text', 'prefill-vision']);
    const metricOf = new Map<string, string>();
    for (const h of hpas) {
      expect(h.spec.scaleTargetRef).toMatchObject({ apiVersion: 'apps/v1', kind: 'Deployment' });
      expect(named('Deployment', h.spec.scaleTargetRef.name)).toBeDefined();
      expect(h.spec.minReplicas).toBeGreaterThanOrEqual(1);
      expect(h.spec.maxReplicas).toBeGreaterThan(h.spec.minReplicas);
      const pods = (h.spec.metrics as Array<{ type: string; pods?: { metric: { name: string } } }>).find((m) => m.type === 'Pods')!;
      metricOf.set(h.spec.scaleTargetRef.name, pods.pods!.metric.name);
    }
    expect(new Set(metricOf.values()).size).toBe(4);
    expect(metricOf.get('decode-text')).toBe('tandem_worker_kv_cache_usage_perc');
    // Prefill: queued prompts are TTFT in the making. Vision: encoding bypasses the engine queue,
    // so the images it encodes (its encoder-cache misses) per second measure its load.
    expect(metricOf.get('prefill-text')).toBe('tandem_worker_num_requests_waiting');
    expect(metricOf.get('prefill-vision')).toBe('tandem_encoder_cache_misses_per_second');
  });
});

describe('k8s: internal planes (docs/security.md)', () => {
  const secretPath = configMap.TANDEM_CLUSTER_SECRET_FILE!;

  it('every router, worker and gateway pod mounts the Secret tandem-metrics-key where TANDEM_METRICS_API_KEY_FILE points; the PodMonitor sends it', () => {
    const keyPath = configMap.TANDEM_METRICS_API_KEY_FILE!;
    const dir = keyPath.slice(0, keyPath.lastIndexOf('/'));
    for (const pool of POOLS) {
      const d = named('Deployment', pool);
      const volume = (podSpec(d).volumes as Array<{ name: string; secret?: any }>).find((v) => v.secret?.secretName === 'tandem-metrics-key');
      expect(volume, `${pool} mounts the metrics key`).toBeDefined();
      expect(volume!.secret.optional, pool).not.toBe(true);
      expect(volume!.secret.items, pool).toEqual([{ key: 'metrics-key', path: keyPath.slice(dir.length + 1) }]);
      expect(volume!.secret.defaultMode, pool).toBe(0o440);
      expect(containers(d)[0]!.volumeMounts, pool).toContainEqual({ name: volume!.name, mountPath: dir, readOnly: true });
      // Never the key itself in a manifest or on a command line.
      expect(containers(d)[0]!.args!.join(' '), pool).not.toMatch(/--metrics-api-key\b/);
      expect((containers(d)[0]!.env ?? []).map((e) => e.name), pool).not.toContain('TANDEM_METRICS_API_KEY');
    }
    const monitor = readYaml<any>('deploy/k8s/addons/podmonitor.yaml');
    for (const e of monitor.spec.podMetricsEndpoints) expect(e.authorization, e.port).toEqual({ type: 'Bearer', credentials: { name: 'tandem-metrics-key', key: 'metrics-key' } });
  });

  it('every router, worker and gateway pod mounts the Secret tandem-cluster-secret where TANDEM_CLUSTER_SECRET_FILE points, readable by its user only', () => {
    expect(secretPath).toMatch(/^\/.+\/[^/]+$/);
    const dir = secretPath.slice(0, secretPath.lastIndexOf('/'));
    const file = secretPath.slice(dir.length + 1);
    for (const pool of POOLS) {
      const d = named('Deployment', pool);
      const volume = (podSpec(d).volumes as Array<{ name: string; secret?: any }>).find((v) => v.secret?.secretName === 'tandem-cluster-secret');
      expect(volume, `${pool} mounts the cluster secret`).toBeDefined();
      // Not optional: a pod without the secret waits rather than starting unauthenticated.
      expect(volume!.secret.optional, pool).not.toBe(true);
      expect(volume!.secret.items, pool).toEqual([{ key: 'cluster-secret', path: file }]);
      expect(volume!.secret.defaultMode, pool).toBe(0o440);
      // The file is root-owned and group-readable: the pod's fsGroup must be the user it runs as.
      const sc = podSpec(d).securityContext;
      expect(sc?.fsGroup, pool).toBe(sc?.runAsUser ?? 1000);
      const c = containers(d)[0]!;
      expect(c.volumeMounts, pool).toContainEqual({ name: volume!.name, mountPath: dir, readOnly: true });
      expect(c.envFrom?.map((r) => r.configMapRef?.name), pool).toContain('tandem-config');
      expect(c.args, pool).not.toContain('--insecure');
      expect((c.env ?? []).map((e) => e.name), pool).not.toContain('TANDEM_INSECURE');
    }
    // The secret itself is never a file of this directory (every deployment would share it).
    expect(byKind('Secret')).toEqual([]);
  });

  it('NATS runs deploy/nats/nats-server.conf and start.sh verbatim, with every component\'s password from the Secret tandem-nats-credentials', () => {
    const natsConfig = named('ConfigMap', 'tandem-nats-config').data!;
    expect(natsConfig['nats-server.conf']).toBe(readText('deploy/nats/nats-server.conf'));
    expect(natsConfig['start.sh']).toBe(readText('deploy/nats/start.sh'));
    const nats = named('StatefulSet', 'nats');
    const c = containers(nats)[0]!;
    expect(c.command).toEqual(['sh', '/etc/tandem-nats/start.sh']);
    expect(c.args!.slice(0, 2)).toEqual(['-c', '/etc/tandem-nats/nats-server.conf']);
    const volumes = podSpec(nats).volumes as Array<{ name: string; configMap?: { name: string }; secret?: any }>;
    const config = volumes.find((v) => v.configMap?.name === 'tandem-nats-config')!;
    expect(c.volumeMounts).toContainEqual({ name: config.name, mountPath: '/etc/tandem-nats', readOnly: true });
    const passwords = volumes.find((v) => v.secret?.secretName === 'tandem-nats-credentials')!;
    expect(c.volumeMounts).toContainEqual({ name: passwords.name, mountPath: '/run/nats-passwords', readOnly: true });
    const users = [...readText('deploy/nats/nats-server.conf').matchAll(/^\s*user:\s*([a-z-]+)\s*$/gm)].map((m) => m[1]!);
    const byKey = (a: { key: string }, b: { key: string }) => a.key.localeCompare(b.key);
    expect([...passwords.secret.items].sort(byKey)).toEqual(users.map((u) => ({ key: u, path: `${u}/password` })).sort(byKey));
  });

  it('the router and each worker pool connect to NATS as their own user, mounting only their own password', () => {
    for (const pool of ['router', 'prefill-vision', 'prefill-text', 'decode-text']) {
      const d = named('Deployment', pool);
      const c = containers(d)[0]!;
      const env = new Map((c.env ?? []).map((e: { name: string; value?: string }) => [e.name, e.value]));
      expect(env.get('TANDEM_NATS_USER'), pool).toBe(pool);
      const file = env.get('TANDEM_NATS_PASSWORD_FILE')!;
      const volume = (podSpec(d).volumes as Array<{ name: string; secret?: any }>).find((v) => v.secret?.secretName === 'tandem-nats-credentials')!;
      expect(volume.secret.items, pool).toEqual([{ key: pool, path: file.slice(file.lastIndexOf('/') + 1) }]);
      expect(volume.secret.defaultMode, pool).toBe(0o440);
      expect(c.volumeMounts, pool).toContainEqual({ name: volume.name, mountPath: file.slice(0, file.lastIndexOf('/')), readOnly: true });
    }
    // The gateway does not use NATS: no user, no password.
    const gw = named('Deployment', 'gateway');
    expect((podSpec(gw).volumes as Array<{ secret?: any }>).some((v) => v.secret?.secretName === 'tandem-nats-credentials')).toBe(false);
    expect(byKind('Secret')).toEqual([]);
  });

  it('Redis runs deploy/redis/start.sh verbatim; the router and the gateways connect as their own users, mounting only their own password', () => {
    expect(named('ConfigMap', 'tandem-redis-config').data!['start.sh']).toBe(readText('deploy/redis/start.sh'));
    const redis = named('StatefulSet', 'redis');
    const c = containers(redis)[0]!;
    expect(c.command).toEqual(['sh', '/etc/tandem-redis/start.sh']);
    const volumes = podSpec(redis).volumes as Array<{ name: string; configMap?: { name: string }; secret?: any }>;
    const config = volumes.find((v) => v.configMap?.name === 'tandem-redis-config')!;
    expect(c.volumeMounts).toContainEqual({ name: config.name, mountPath: '/etc/tandem-redis', readOnly: true });
    const passwords = volumes.find((v) => v.secret?.secretName === 'tandem-redis-credentials')!;
    expect(c.volumeMounts).toContainEqual({ name: passwords.name, mountPath: '/run/redis-passwords', readOnly: true });
    expect(passwords.secret.items).toEqual([{ key: 'router', path: 'router/password' }, { key: 'gateway', path: 'gateway/password' }]);
    for (const name of ['router', 'gateway']) {
      const d = named('Deployment', name);
      const gc = containers(d)[0]!;
      const env = new Map((gc.env ?? []).map((e: { name: string; value?: string }) => [e.name, e.value]));
      expect(env.get('TANDEM_REDIS_USER'), name).toBe(name);
      const file = env.get('TANDEM_REDIS_PASSWORD_FILE')!;
      const volume = (podSpec(d).volumes as Array<{ name: string; secret?: any }>).find((v) => v.secret?.secretName === 'tandem-redis-credentials')!;
      expect(volume.secret.items, name).toEqual([{ key: name, path: file.slice(file.lastIndexOf('/') + 1) }]);
      expect(gc.volumeMounts, name).toContainEqual({ name: volume.name, mountPath: file.slice(0, file.lastIndexOf('/')), readOnly: true });
    }
    // Workers do not use Redis.
    for (const pool of ['prefill-vision', 'prefill-text', 'decode-text']) {
      expect((podSpec(named('Deployment', pool)).volumes as Array<{ secret?: any }>).some((v) => v.secret?.secretName === 'tandem-redis-credentials'), pool).toBe(false);
    }
  });

  it('gRPC is mutual TLS and NATS requires TLS, with the certificate of the Secret tandem-grpc-tls every router, worker, gateway and NATS pod mounts', () => {
    const dir = '/run/tandem-tls';
    expect(configMap.TANDEM_GRPC_TLS_CERT).toBe(`${dir}/tandem.crt`);
    expect(configMap.TANDEM_GRPC_TLS_KEY).toBe(`${dir}/tandem.key`);
    expect(configMap.TANDEM_GRPC_TLS_CA).toBe(`${dir}/ca.crt`);
    expect(configMap.TANDEM_NATS_TLS_CA_FILE).toBe(`${dir}/ca.crt`);
    const mountsTls = (w: ReturnType<typeof named>) => {
      const v = (podSpec(w).volumes as Array<{ name: string; secret?: any }>).find((x) => x.secret?.secretName === 'tandem-grpc-tls');
      return v !== undefined && containers(w)[0]!.volumeMounts!.some((m: { name: string; mountPath: string }) => m.name === v.name && m.mountPath === dir);
    };
    for (const d of ['router', 'gateway', 'prefill-vision', 'prefill-text', 'decode-text']) expect(mountsTls(named('Deployment', d)), d).toBe(true);
    const nats = named('StatefulSet', 'nats');
    expect(mountsTls(nats)).toBe(true);
    expect(containers(nats)[0]!.args).toEqual(expect.arrayContaining(['--tls', '--tlscert', `${dir}/tandem.crt`, '--tlskey', `${dir}/tandem.key`]));
    // Workers are dialled at pod IPs (--host $(POD_IP)): the router checks the name their certificate carries.
    const routerEnv = new Map((containers(named('Deployment', 'router'))[0]!.env ?? []).map((e: { name: string; value?: string }) => [e.name, e.value]));
    expect(routerEnv.get('TANDEM_GRPC_TLS_SERVER_NAME')).toBe('tandem-worker');
    expect(readText('deploy/README.md')).toContain('gen-certs --out grpc-tls --hosts router,nats,redis,tandem-worker');
    // Redis speaks TLS only, with the same certificate; clients trust its CA.
    expect(configMap.TANDEM_REDIS_TLS_CA_FILE).toBe(`${dir}/ca.crt`);
    const redis = named('StatefulSet', 'redis');
    expect(mountsTls(redis)).toBe(true);
    expect(containers(redis)[0]!.args).toEqual(expect.arrayContaining(['--port', '0', '--tls-port', '6379', '--tls-cert-file', `${dir}/tandem.crt`]));
  });

  // Whether a pod with `labels` (in the tandem namespace; undefined = outside it) may open a
  // connection to `to`'s container port `port`, under the NetworkPolicies, as a CNI enforces them.
  type Labels = Record<string, string>;
  const policies = byKind('NetworkPolicy');
  const selects = (sel: any, labels: Labels | undefined): boolean =>
    labels !== undefined &&
    Object.entries((sel?.matchLabels ?? {}) as Labels).every(([k, v]) => labels[k] === v) &&
    ((sel?.matchExpressions ?? []) as Array<{ key: string; operator: string; values: string[] }>).every((e) => {
      expect(['In'], 'operators this test evaluates').toContain(e.operator);
      return e.values.includes(labels[e.key]!);
    });
  const podLabels = (name: string): Labels => objects.find((o) => ['Deployment', 'StatefulSet'].includes(o.kind) && o.metadata.name === name)!.spec.template.metadata.labels;
  function allowed(from: string | undefined, to: string, port: string): boolean {
    const target = objects.find((o) => ['Deployment', 'StatefulSet'].includes(o.kind) && o.metadata.name === to)!;
    const declared = containers(target).flatMap((c) => c.ports ?? []);
    const number = declared.find((p) => p.name === port)?.containerPort ?? Number(port);
    const source = from === undefined ? undefined : podLabels(from);
    const applying = policies.filter((p) => selects(p.spec.podSelector, podLabels(to)) && (p.spec.policyTypes as string[]).includes('Ingress'));
    if (applying.length === 0) return true;
    return applying.some((p) =>
      ((p.spec.ingress ?? []) as Array<{ from?: any[]; ports?: Array<{ port: string | number }> }>).some(
        (rule) =>
          (rule.from === undefined || rule.from.some((peer) => peer.namespaceSelector === undefined && selects(peer.podSelector, source))) &&
          (rule.ports === undefined || rule.ports.some((q) => q.port === port || q.port === number)),
      ),
    );
  }
  const WORKERS = ['prefill-vision', 'prefill-text', 'decode-text'];

  it('a default-deny ingress policy covers every pod of the namespace', () => {
    const deny = policies.find((p) => Object.keys(p.spec.podSelector).length === 0)!;
    expect(deny, 'a policy with an empty podSelector').toBeDefined();
    expect(deny.spec.policyTypes).toEqual(['Ingress']);
    expect(deny.spec.ingress ?? []).toEqual([]);
  });

  it('NetworkPolicies open exactly: clients → gateway, gateway → router gRPC, router → workers gRPC, workers ↔ workers, router + workers → NATS, router + gateway → Redis', () => {
    // The API edge and metrics are open to anyone (including other namespaces).
    expect(allowed(undefined, 'gateway', 'http')).toBe(true);
    for (const to of ['router', ...WORKERS]) expect(allowed(undefined, to, 'metrics'), `${to} metrics`).toBe(true);
    // The request plane.
    expect(allowed('gateway', 'router', 'grpc')).toBe(true);
    for (const w of WORKERS) expect(allowed('router', w, 'grpc'), `router → ${w}`).toBe(true);
    // Transfers: any port, worker to worker.
    for (const a of WORKERS) for (const b of WORKERS) expect(allowed(a, b, '40123'), `${a} → ${b} transfer`).toBe(true);
    // Control plane and state.
    for (const c of ['router', ...WORKERS]) expect(allowed(c, 'nats', 'client'), `${c} → nats`).toBe(true);
    expect(allowed('router', 'redis', 'redis')).toBe(true);
    // The gateway replicas share one admission bound through Redis.
    expect(allowed('gateway', 'redis', 'redis')).toBe(true);

    // Everything else is refused: nobody outside reaches the router, workers, NATS or Redis ...
    for (const [to, port] of [['router', 'grpc'], ...WORKERS.map((w) => [w, 'grpc']), ...WORKERS.map((w) => [w, '40123']), ['nats', 'client'], ['nats', 'monitor'], ['redis', 'redis']] as const) {
      expect(allowed(undefined, to, port), `outside → ${to}:${port}`).toBe(false);
    }
    // ... the gateway reaches neither workers nor NATS (it talks to the router, and to Redis for admission) ...
    for (const w of WORKERS) expect(allowed('gateway', w, 'grpc'), `gateway → ${w}`).toBe(false);
    expect(allowed('gateway', 'nats', 'client')).toBe(false);
    // ... and workers reach neither the router nor Redis.
    for (const w of WORKERS) {
      expect(allowed(w, 'router', 'grpc'), `${w} → router`).toBe(false);
      expect(allowed(w, 'redis', 'redis'), `${w} → redis`).toBe(false);
    }
  });
});
