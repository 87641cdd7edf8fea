import type { Server } from 'node:http';

/**
 * Readies a Node server that takes image bodies (the data front; `npm start`'s API, which serves
 * the data front's routes too): no whole-request deadline. Node's default `requestTimeout` of
 * 300 s answers 408 to any upload still sending after five minutes, which a multi-GiB image over
 * an ordinary link is (10 GiB at 30 MiB/s: ~6 min). Headers stay bounded (`headersTimeout`), and
 * a stalled body is bounded by what sits in front: the load balancer's idle timeout in AWS.
 */
export function takeLongUploads(server: Server): Server {
  server.requestTimeout = 0;
  return server;
}
