// What `npm run bench -- --help` prints: every mode of the benchmark and its flags.
export const HELP = `npm run bench -- [flags]   (or node bench/broadcast.js [flags] after npm run build)

Broadcast (the default): N streams on each server, then B broadcasts; a three-way table of
memory per stream, delivery latency, CPU per broadcast and missed deliveries.
  --streams N        streams per server (default 10000)
  --broadcasts B     broadcasts per round (default 20; the first is reported apart)
  --rounds R         rounds, alternating the servers (default 3)
  --only LIST        comma-separated subset of: baseline (node:http), koa-ws, sidecar
  --per-process K    streams per load-client process (default 5000, at most 15000)
  --concurrency C    connections being opened at once, in all (default 200)
  --gap MS           pause between broadcasts (default 100)
  --timeout MS       how long a broadcast may take to reach every stream (default 30000)
  --pin auto|on|off  server on CPU 0, clients and driver on the others (default auto)

Restart storm (--restart): N sidecar streams whose load client reconnects as a browser
running client/core/stream.ts does (the retry hint after a healthy stream, then full-jitter
backoff); SIGTERM the sidecar, start it again on the same port, and report how long until
every stream is back, failed attempts, and the sidecar's peak CPU while they return.
  --restart          run it (with --streams, default 10000; --pin as above)
  --client LIST      which reconnect policies to run, comma-separated (default hint,backoff):
                     hint = today's client, backoff = the client before it (0-1 s of its own
                     backoff, ignoring the hint)
  --retry-ms MS      the sidecar's RETRY_MS (default 3000: the hint is 3000-4500 ms)

Replicas (--replicas R): R sidecars on one Redis, --streams in all (default 10000 per
replica) spread evenly, against one sidecar with as many as each replica holds.
  --replicas R       (with --streams, --broadcasts: default 10)
`
