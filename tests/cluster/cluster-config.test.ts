import test from 'ava';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { loadClusterConfig, parseClusterConfig, nodeTypeResources, parseBytes, resolveToken, ClusterConfigError } from '@cohort/cluster';

const dir = new URL('../../configs/cluster/', import.meta.url).pathname;

function problems(yaml: string): string[] {
  try {
    parseClusterConfig(yaml, 'x.yaml');
  } catch (err) {
    if (err instanceof ClusterConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected the config to be refused');
}

const minimal = `clusterName: t\nprovider: { type: local }\nnodeTypes:\n  cpu: { resources: { CPU: 2 } }\n`;

test('every shipped example config validates', (t) => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
  t.true(files.includes('local.yaml') && files.includes('zerosearch-8gpu.yaml'));
  for (const f of files) t.notThrows(() => loadClusterConfig(path.join(dir, f)), f);
});

test('the 8-GPU ZeroSearch layout has 8 GPUs over two ssh hosts; the local one runs several agents with logical GPUs', (t) => {
  const z = loadClusterConfig(path.join(dir, 'zerosearch-8gpu.yaml'));
  t.is(z.provider.type, 'ssh');
  const gpus = Object.values(z.nodeTypes).reduce((s, nt) => s + nt.count * (nodeTypeResources(nt).GPU ?? 0), 0);
  t.is(gpus, 8);
  const l = loadClusterConfig(path.join(dir, 'local.yaml'));
  t.is(l.bind, '127.0.0.1');
  t.true(Object.values(l.nodeTypes).reduce((s, nt) => s + nt.count, 0) >= 2);
  t.is(nodeTypeResources(l.nodeTypes.simulator).simulator, 1);
  t.is(nodeTypeResources(l.nodeTypes.gpu2).memory, 2 * 2 ** 30);
});

test('defaults: loopback bind, 1 s heartbeat, 5 s timeout, count 1', (t) => {
  const c = parseClusterConfig(minimal);
  t.is(c.bind, '127.0.0.1');
  t.is(c.membership.heartbeatMs, 1000);
  t.is(c.membership.timeoutMs, 5000);
  t.is(c.nodeTypes.cpu.count, 1);
});

test('an unknown key is refused with its path and the list of known keys', (t) => {
  const p = problems(minimal.replace('nodeTypes:', 'nodetypes: {}\nnodeTypes:'));
  t.is(p.length, 1);
  t.regex(p[0], /^\(top level\): unknown key "nodetypes"; known keys: clusterName, provider, bind, head, nodeTypes/);
  const q = problems(minimal.replace('{ CPU: 2 }', '{ CPU: 2, gpu: 1 }'));
  t.regex(q[0], /^nodeTypes\.cpu\.resources: unknown key "gpu"; known keys: CPU, GPU, memory, custom/);
});

test('a wrong type names the path, what was expected and what was found', (t) => {
  const p = problems(minimal.replace('CPU: 2', 'CPU: two'));
  t.deepEqual(p, ['nodeTypes.cpu.resources.CPU: expected number, found string "two"']);
  const m = problems(minimal.replace('CPU: 2', 'CPU: 2, memory: lots'));
  t.regex(m[0], /^nodeTypes\.cpu\.resources\.memory: expected bytes .* found "lots"/);
  const g = problems(minimal.replace('CPU: 2', 'GPU: 1.5'));
  t.regex(g[0], /^nodeTypes\.cpu\.resources\.GPU: expected a whole number of GPUs/);
  const pr = problems(minimal.replace('type: local', 'type: k8s'));
  t.regex(pr[0], /^provider.*"local" or "ssh"/);
});

test('cross-field checks: timeout vs heartbeat, ssh needs credentials and a non-loopback bind, hosts must be known', (t) => {
  t.regex(problems(minimal + 'membership: { heartbeatMs: 1000, timeoutMs: 1500 }\n')[0], /^membership\.timeoutMs: expected at least 2 × heartbeatMs \(2000\), found 1500/);
  const ssh = `clusterName: s\nprovider: { type: ssh, hosts: [h1, h2], user: u }\nnodeTypes:\n  g: { hosts: [h3], count: 2 }\n`;
  const p = problems(ssh);
  t.true(p.some((x) => /^bind: expected a non-loopback/.test(x)), p.join('\n'));
  t.true(p.some((x) => /^security: expected tokenEnv, tokenFile, token or natsCreds/.test(x)));
  t.true(p.some((x) => /^nodeTypes\.g\.hosts\.0: expected one of provider\.hosts \(h1, h2\), found "h3"/.test(x)));
  t.true(p.some((x) => /^nodeTypes\.g\.count: expected count to equal the number of hosts listed \(1\), found 2/.test(x)));
  t.regex(problems(minimal + 'head: { nodeType: gpu }\n')[0], /^head\.nodeType: expected one of the node types \(cpu\), found "gpu"/);
});

test('a missing file and broken YAML get clear errors', (t) => {
  t.throws(() => loadClusterConfig('/nonexistent/c.yaml'), { message: /cannot read cluster config \/nonexistent\/c\.yaml: ENOENT/ });
  t.regex(problems('clusterName: [')[0], /not valid YAML/);
  t.regex(problems('- a\n- b\n')[0], /expected a mapping, found a list/);
});

test('byte amounts and token sources', (t) => {
  t.is(parseBytes('64Gi'), 64 * 2 ** 30);
  t.is(parseBytes('16GB'), 16e9);
  t.is(parseBytes(1024), 1024);
  t.is(parseBytes('12 parsecs'), undefined);
  t.is(resolveToken({ tokenEnv: 'MY_TOK' }, { MY_TOK: 'abcdefghij' }), 'abcdefghij');
  t.throws(() => resolveToken({ tokenEnv: 'MY_TOK' }, {}), { message: /MY_TOK is not set/ });
  t.is(resolveToken({}), undefined);
});

test('node types take a worker pool (idle workers, actors per shared process); bad values name the path', (t) => {
  const c = parseClusterConfig(`clusterName: t\nprovider: { type: local }\nnodeTypes:\n  cpu: { resources: { CPU: 2 }, workerPool: { prestart: 0, sharedActorsPerProcess: 50 } }\n`);
  t.deepEqual(c.nodeTypes.cpu.workerPool, { prestart: 0, sharedActorsPerProcess: 50 });
  t.is(parseClusterConfig(minimal).nodeTypes.cpu.workerPool, undefined, 'absent: the runtime defaults apply (2 idle workers, 250 per shared process)');
  const p = problems(`clusterName: t\nprovider: { type: local }\nnodeTypes:\n  cpu: { workerPool: { prestart: -1, spare: 3 } }\n`);
  t.true(p.some((x) => /nodeTypes\.cpu\.workerPool\.prestart/.test(x)), p.join('\n'));
  t.true(p.some((x) => /unknown key "spare"; known keys: prestart, sharedActorsPerProcess/.test(x)), p.join('\n'));
});
