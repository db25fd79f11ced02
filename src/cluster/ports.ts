/**
 * Ports for N workers on one machine behind a proxy on `basePort`: worker i (from 1) serves HTTP on basePort + i
 * and answers HAProxy's agent-check on basePort + 100 + i.
 */
export function workerPorts(basePort: number, count: number): { port: number; agentPort: number }[] {
  if (!Number.isInteger(count) || count < 1 || count > 64)
    throw new Error(`--workers must be 1..64, got ${count}`);
  if (basePort + 100 + count > 65535) throw new Error(`port ${basePort} leaves no room for ${count} workers`);
  return Array.from({ length: count }, (_, i) => ({ port: basePort + 1 + i, agentPort: basePort + 101 + i }));
}
