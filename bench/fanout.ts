/**
 * bench:fanout — the log's live stream to many readers. The whole gateway runs in this process
 * (`Server.layer` on a fresh data directory, port 0); SUBSCRIBERS `GET /api/events` connections
 * come from another process (bench/fanoutClients.mjs); 64 appenders append EVENTS
 * `access_decided` events as fast as the store takes them.
 *
 *   1. appends/s with no subscriber, then with SUBSCRIBERS: the ratio should stay ≥ 0.5 (an
 *      event is serialized once, not once per subscriber);
 *   2. delivery: from the first append until every subscriber has every event, beside a raw
 *      node:http broadcaster writing the same frames (read back from the log) to the same number
 *      of connections from the same client process: baseline ms / ours ms, ≥ 0.5 aimed at.
 *
 * Three rounds (BENCH_ROUNDS), each: appends alone, appends watched, the baseline; the JSON line
 * has each figure's median over the rounds, and the rounds.
 *
 *   npm run bench:fanout        (BENCH_SUBSCRIBERS, BENCH_EVENTS to change the sizes)
 */
import { AccessEvents } from "@annal/kernel"
import { EventStore, type StoredEvent } from "@annal/store"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { createServer, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { resolve } from "node:path"
import { loadavg } from "node:os"
import { createInterface } from "node:readline"
import { frameOf } from "../gateway/src/sse/frames.js"
import * as Server from "../gateway/src/Server.js"
import { fmt, machine, rate, tempDir } from "./lib.js"

const SUBSCRIBERS = Number(process.env.BENCH_SUBSCRIBERS ?? 1000)
const EVENTS = Number(process.env.BENCH_EVENTS ?? 1000)
const APPENDERS = 64
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const TOKEN = "bench-fanout-token-0123456789abcdef"
const CLIENTS = resolve(import.meta.dirname, "fanoutClients.mjs")

const now = () => performance.timeOrigin + performance.now()

/** APPENDERS fibers appending `total` decisions between them, one event per append. */
const appendAll = (store: EventStore["Type"], total: number, round: string) =>
  Effect.forEach(
    Array.from({ length: APPENDERS }, (_, a) => a),
    (a) =>
      Effect.forEach(
        Array.from({ length: Math.ceil(total / APPENDERS) }, (_, i) => i * APPENDERS + a).filter((n) => n < total),
        (n) =>
          store.append({
            stream: AccessEvents.accessStream(`agent-${a}`),
            expectedVersion: "any",
            events: [{
              type: AccessEvents.ACCESS_DECIDED,
              data: { subject: `agent-${a}`, action: "use_tool:exec", resource: `/workspace/${round}/notes-${n}.md`, allowed: true, reason: null }
            }],
            actor: `agent:agent-${a}`
          }),
        { discard: true }
      ),
    { concurrency: "unbounded", discard: true }
  )

/** Starts the client process; resolves with it once every connection is open and streaming. */
const clients = (url: string, expected: number) =>
  new Promise<{ child: ChildProcess; done: Promise<number> }>((resolvePromise, reject) => {
    const child = spawn(process.execPath, [CLIENTS, url, TOKEN, String(SUBSCRIBERS), String(expected)], { stdio: ["ignore", "pipe", "inherit"] })
    let finish: (at: number) => void = () => {}
    const done = new Promise<number>((r) => (finish = r))
    createInterface({ input: child.stdout! }).on("line", (line) => {
      if (line === "ready") resolvePromise({ child, done })
      else if (line.startsWith("done ")) finish(JSON.parse(line.slice(5)).lastAt)
    })
    child.on("exit", (code) => code !== 0 && reject(new Error(`the client process exited with ${code}`)))
  })

/** A plain node:http server that writes the given frames to every connection as fast as it can. */
const broadcaster = async (frames: ReadonlyArray<Uint8Array>) => {
  const responses: Array<ServerResponse> = []
  let allConnected: () => void = () => {}
  const connected = new Promise<void>((r) => (allConnected = r))
  const server = createServer((_, res) => {
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" })
    res.write("retry: 1000\n\n")
    responses.push(res)
    if (responses.length === SUBSCRIBERS) allConnected()
  })
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/events`
  const send = () => {
    // the frames in batches the size of the appenders' round, as the store publishes them
    for (let i = 0; i < frames.length; i += APPENDERS) {
      const batch = Buffer.concat(frames.slice(i, i + APPENDERS))
      for (const res of responses) res.write(batch)
    }
  }
  return { url, connected, send, close: () => new Promise<void>((r) => server.close(() => r())) }
}

const main = async () => {
  console.log(`fanout: ${fmt(SUBSCRIBERS)} SSE subscribers in another process, ${fmt(EVENTS)} events from ${APPENDERS} appenders`)
  console.log(`machine: ${machine()}`)
  const tmp = tempDir("fanout")
  const scope = Effect.runSync(Scope.make())
  try {
    const context = await Effect.runPromise(
      Layer.build(Server.layer({ dataDir: tmp.file("data"), host: "127.0.0.1", port: 0, apiKey: TOKEN })).pipe(Scope.extend(scope))
    )
    const run = <A, E>(effect: Effect.Effect<A, E, never>) => Effect.runPromise(effect)
    const store = Context.get(context, EventStore)
    const url = await run(Effect.provide(Server.serverUrl, context))
    // every subscriber buffered (none cut off), and the per-address limit out of the way
    const put = await fetch(`${url}/api/config`, {
      method: "PUT",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ events: { subscriber_buffer: 1_000_000 }, security: { rate_limit_per_minute: 1_000_000 } })
    })
    if (!put.ok) throw new Error(`PUT /api/config: ${put.status} ${await put.text()}`)

    await run(appendAll(store, EVENTS, "warm-up"))
    const rounds: Array<{ alone: number; watched: number; ours: number; baseline: number }> = []
    for (let round = 1; round <= ROUNDS; round++) {
      console.log(`round ${round} of ${ROUNDS} (load average ${loadavg()[0]!.toFixed(2)})`)
      let start = performance.now()
      await run(appendAll(store, EVENTS, `alone-${round}`))
      const alone = rate(EVENTS, performance.now() - start)
      console.log(`  appends with no subscriber: ${fmt(alone)} events/s`)

      const from = (await run(store.head)).seq
      const ours = await clients(`${url}/api/events`, EVENTS)
      const startedAt = now()
      start = performance.now()
      await run(appendAll(store, EVENTS, `watched-${round}`))
      const watched = rate(EVENTS, performance.now() - start)
      const oursDelivery = (await ours.done) - startedAt
      console.log(`  appends with ${fmt(SUBSCRIBERS)} subscribers: ${fmt(watched)} events/s (ratio ${(watched / alone).toFixed(3)})`)
      console.log(`  ours: every subscriber had every event after ${fmt(oursDelivery)} ms (${fmt(rate(EVENTS * SUBSCRIBERS, oursDelivery))} frames/s)`)

      // the baseline sends the very frames the subscribers got, read back from the log
      const events: ReadonlyArray<StoredEvent> = await run(store.read(from + 1, from + EVENTS))
      const raw = await broadcaster(events.map(frameOf))
      const theirs = await clients(raw.url, EVENTS)
      await raw.connected
      const rawStart = now()
      raw.send()
      const rawDelivery = (await theirs.done) - rawStart
      await raw.close()
      console.log(`  baseline (node:http broadcaster): every subscriber had every event after ${fmt(rawDelivery)} ms (${fmt(rate(EVENTS * SUBSCRIBERS, rawDelivery))} frames/s)`)
      console.log(`  delivery ratio (baseline ms / ours ms): ${(rawDelivery / oursDelivery).toFixed(3)}`)
      rounds.push({ alone, watched, ours: oursDelivery, baseline: rawDelivery })
    }
    // each figure's median over the rounds (other work on the machine moves single rounds a lot)
    const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
    const appendRatio = median(rounds.map((r) => r.watched / r.alone))
    const deliveryRatio = median(rounds.map((r) => r.baseline / r.ours))
    console.log(`median of ${ROUNDS} rounds: append ratio ${appendRatio.toFixed(3)}, delivery ratio ${deliveryRatio.toFixed(3)}`)
    console.log(JSON.stringify({
      bench: "fanout",
      subscribers: SUBSCRIBERS,
      events: EVENTS,
      append_alone: Math.round(median(rounds.map((r) => r.alone))),
      append_watched: Math.round(median(rounds.map((r) => r.watched))),
      append_ratio: Number(appendRatio.toFixed(3)),
      ours_delivery_ms: Math.round(median(rounds.map((r) => r.ours))),
      baseline_delivery_ms: Math.round(median(rounds.map((r) => r.baseline))),
      ratio: Number(deliveryRatio.toFixed(3)),
      rounds: rounds.map((r) => ({
        append_ratio: Number((r.watched / r.alone).toFixed(3)),
        ours_ms: Math.round(r.ours),
        baseline_ms: Math.round(r.baseline),
        ratio: Number((r.baseline / r.ours).toFixed(3))
      }))
    }))
  } finally {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    tmp.cleanup()
  }
}

await main()
