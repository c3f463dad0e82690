/**
 * The dependency rules of DESIGN.md §2, checked by test/architecture/dependency-rules.test.ts
 * (part of `npm test`): dependencies point one way, cli → gateway / router / worker → engine,
 * transfer, bus, state, text, media → protocol → common, kernels; services share types through
 * services/protocol, never by importing each other; the engine never imports a network module;
 * workers see token ids, never text.
 */
const svc = (name) => `^services/${name}/`;
const NETWORK_PACKAGES = '^(node:)?(net|http|https|http2|dgram|tls)$|^@grpc/|^nats$|^ioredis$|^fastify$';

/** A rule that `from` may not import any of `to` (folders under services/). */
const forbid = (name, from, to, comment) => ({
  name,
  comment,
  severity: 'error',
  from: { path: svc(from), pathNot: '\\.test\\.ts$' },
  to: { path: `^services/(${to.join('|')})/` },
});

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'Modules must not import each other in a cycle.',
      severity: 'error',
      from: { pathNot: '\\.test\\.ts$' },
      to: { circular: true, viaOnly: { pathNot: '\\.test\\.ts$' } },
    },
    forbid('protocol-depends-on-common-only', 'protocol', ['gateway', 'router', 'worker', 'engine', 'transfer', 'bus', 'state', 'text', 'media', 'grammar', 'cli'], 'The cluster contract depends on common (and kernel types) only.'),
    forbid('common-depends-on-nothing', 'common', ['gateway', 'router', 'worker', 'engine', 'transfer', 'bus', 'state', 'text', 'media', 'grammar', 'cli', 'protocol'], 'common is the bottom layer.'),
    forbid('gateway-reaches-workers-through-the-router', 'gateway', ['router', 'worker', 'engine', 'transfer', 'bus', 'state', 'cli'], 'The gateway talks to the router over gRPC and shares types through protocol.'),
    forbid('router-shares-types-through-protocol', 'router', ['gateway', 'worker', 'engine', 'text', 'media', 'cli'], 'The router plans and relays; worker records, subjects and prefix keys live in protocol.'),
    forbid('workers-see-token-ids-only', 'worker', ['gateway', 'router', 'text', 'media', 'cli'], 'Workers load weights and a ModelCard, never a tokenizer; EOS ids travel with the request.'),
    forbid('engine-is-a-pure-library', 'engine', ['gateway', 'router', 'worker', 'transfer', 'bus', 'state', 'text', 'media', 'cli'], 'The engine sees token ids (and pixels / embeddings) only and opens no sockets.'),
    forbid('leaf-services-stay-leaves', '(text|media|transfer|bus|state|grammar)', ['gateway', 'router', 'worker', 'engine', 'cli'], 'Shared building blocks never import the services built on them.'),
    {
      name: 'engine-opens-no-sockets',
      comment: 'The engine never imports a network module.',
      severity: 'error',
      from: { path: svc('(engine|protocol|text)') },
      to: { path: NETWORK_PACKAGES },
    },
    {
      name: 'production-code-never-imports-tools-or-tests',
      comment: 'Developer tools and fixtures live outside the production folders and are not imported by them.',
      severity: 'error',
      from: { path: '^(services|kernels/ts)/', pathNot: '\\.test\\.ts$|^services/cli/' },
      to: { path: '^(tools|test)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.mjs'] },
  },
};
