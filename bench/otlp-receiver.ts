/**
 * `node dist/bench/otlp-receiver.js`, forked with an IPC channel: a loopback OTLP/HTTP receiver for
 * the benchmarks, in a process of its own so that its CPU and memory are not the measured one's.
 * Answers 200 (an empty ExportMetricsServiceResponse) to POST /v1/metrics and 404 to anything else.
 * Sends its port once listening; answers any message with its counts; exits when the parent goes.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceiverStats {
  requests: number;
  /** Bytes of the request bodies, as sent (gzip). */
  bytes: number;
  refused: number;
}

if (process.send) {
  const stats: ReceiverStats = { requests: 0, bytes: 0, refused: 0 };
  const server = createServer((req, res) => {
    const ok = req.method === 'POST' && req.url === '/v1/metrics';
    req.on('data', (chunk: Buffer) => (stats.bytes += ok ? chunk.length : 0));
    req.on('end', () => {
      if (ok) stats.requests++;
      else stats.refused++;
      res.writeHead(ok ? 200 : 404, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  server.listen(0, '127.0.0.1', () => process.send!((server.address() as AddressInfo).port));
  process.on('message', () => process.send!(stats));
  process.on('disconnect', () => process.exit(0));
}
