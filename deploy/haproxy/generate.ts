/**
 * Writes the HAProxy configuration for N Repartee workers (see src/cluster/haproxy.ts for what it does).
 *
 *   npx tsx deploy/haproxy/generate.ts --bind 0.0.0.0:8080 \
 *     --worker w1=10.0.0.11:8081:9081 --worker w2=10.0.0.12:8081:9081 > /etc/haproxy/haproxy.cfg
 *   npx tsx deploy/haproxy/generate.ts --workers 3 --port 8080     # one machine: workers on 8081.., agents 8181..
 */
import { parseArgs } from 'node:util';
import { haproxyConfig, type HaproxyWorker, parseWorkerSpec } from '../../src/cluster/haproxy.ts';
import { workerPorts } from '../../src/cluster/ports.ts';

const { values } = parseArgs({
  options: {
    bind: { type: 'string' },
    worker: { type: 'string', multiple: true },
    workers: { type: 'string' },
    port: { type: 'string' },
    host: { type: 'string' },
    stats: { type: 'string' },
    tls: { type: 'string' },
  },
});
const port = Number(values.port ?? 8080);
let workers: HaproxyWorker[] = (values.worker ?? []).map(parseWorkerSpec);
if (values.workers) {
  workers = workerPorts(port, Number(values.workers)).map((p, i) => ({
    name: `w${i + 1}`,
    host: values.host ?? '127.0.0.1',
    ...p,
  }));
}
process.stdout.write(
  haproxyConfig({
    bind: values.bind ?? `0.0.0.0:${port}`,
    workers,
    ...(values.stats ? { statsBind: values.stats } : {}),
    ...(values.tls ? { tlsCertificate: values.tls } : {}),
  }),
);
