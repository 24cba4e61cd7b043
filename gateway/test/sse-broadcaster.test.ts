/**
 * The SSE broadcaster (`src/sse/Broadcaster.ts`) under load: the whole server in this process
 * (`Server.layer` on port 0 over SQLite files), events appended straight through its store by
 * concurrent fibers, and raw `node:http` SSE clients reading the wire.
 */
import { AccessEvents } from "@annal/kernel"
import { EventStore } from "@annal/store"
import { Context, Effect, Exit, Layer, Logger, LogLevel, Scope } from "effect"
import { rmSync } from "node:fs"
import { request as httpRequest, type IncomingMessage } from "node:http"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import * as Server from "../src/Server.js"
import { Broadcaster, deliveryOf } from "../src/sse/Broadcaster.js"
import { tempDir, until } from "./harness.js"

const TOKEN = "sse-broadcaster-test-token-0123456789"

let dataDir: string
let scope: Scope.CloseableScope
let url: string
let store: EventStore["Type"]
let broadcaster: Broadcaster["Type"]

const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)
const connections = () => run(broadcaster.connections)
const head = async () => (await run(store.head)).seq
const range = (from: number, to: number) => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i)

/**
 * Appends `count` decisions from `fibers` concurrent appenders, one event per append; `resource`
 * sets a frame's size, `type` another event type (one no projection reads).
 */
const appendMany = async (count: number, options: { readonly fibers?: number; readonly resource?: string; readonly type?: string } = {}) => {
  // Appends in a server come from I/O (requests, model answers); a loop of appends in this process
  // that never waits for I/O would run as one chain of microtasks (the store's writer yields with
  // Effect.yieldNow), and the sockets, timers and the broadcaster's pauses would never get a turn.
  await new Promise<void>((resolve) => setImmediate(resolve))
  const fibers = options.fibers ?? 8
  return run(
    Effect.forEach(
      range(0, fibers - 1),
      (f) =>
        Effect.forEach(
          range(0, Math.ceil(count / fibers) - 1).map((i) => i * fibers + f).filter((n) => n < count),
          (n) =>
            store.append({
              stream: AccessEvents.accessStream(`agent-${f}`),
              expectedVersion: "any",
              events: [{
                type: options.type ?? AccessEvents.ACCESS_DECIDED,
                data: { subject: `agent-${f}`, action: "use_tool:exec", resource: options.resource ?? `/workspace/${n}`, allowed: true, reason: null }
              }],
              actor: `agent:agent-${f}`
            }),
          { discard: true }
        ),
      { concurrency: "unbounded", discard: true }
    )
  )
}

interface Client {
  /** Seqs of the event frames received, in order. */
  readonly ids: () => Array<number>
  readonly types: () => Array<string>
  readonly text: () => string
  readonly ended: Promise<void>
  readonly response: IncomingMessage
  readonly close: () => void
}

const clients: Array<Client> = []

/** Opens `GET /api/events<query>` and resolves with the response head in. */
const open = (query = "", headers: Record<string, string> = {}): Promise<Client> =>
  new Promise((resolve, reject) => {
    const req = httpRequest(new URL(`/api/events${query}`, url), {
      headers: { accept: "text/event-stream", authorization: `Bearer ${TOKEN}`, ...headers },
      agent: false
    })
    req.on("error", reject)
    req.on("response", (res) => {
      let text = ""
      res.setEncoding("utf8")
      res.on("data", (d: string) => (text += d))
      res.on("error", () => {})
      const ended = new Promise<void>((r) => {
        res.on("end", () => r())
        res.on("close", () => r())
      })
      // frames are parsed once, as they complete: re-parsing the whole text (tens of MB of 64 KB
      // frames) on every poll took the CPU the server in this process needed on a loaded machine
      const parsed: Array<{ seq: number; type: string }> = []
      let parsedTo = 0
      const events = () => {
        for (let end = text.indexOf("\n\n", parsedTo); end >= 0; end = text.indexOf("\n\n", parsedTo)) {
          const block = text.slice(parsedTo, end)
          parsedTo = end + 2
          if (block.startsWith("id: ")) parsed.push(JSON.parse(block.split("\n")[1]!.slice(6)) as { seq: number; type: string })
        }
        return parsed
      }
      const client: Client = {
        ids: () => events().map((e) => e.seq),
        types: () => events().map((e) => e.type),
        text: () => text,
        ended,
        response: res,
        close: () => req.destroy()
      }
      clients.push(client)
      expect(res.statusCode).toBe(200)
      resolve(client)
    })
    req.end()
  })

const putConfig = async (patch: unknown) => {
  const response = await fetch(`${url}/api/config`, {
    method: "PUT",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify(patch)
  })
  expect(response.status, await response.text()).toBe(200)
}

beforeAll(async () => {
  dataDir = tempDir("annal-sse-broadcaster-")
  scope = Effect.runSync(Scope.make())
  const context = await Effect.runPromise(
    Layer.build(Server.layer({ dataDir, host: "127.0.0.1", port: 0, apiKey: TOKEN, synchronous: "NORMAL" })).pipe(
      Scope.extend(scope),
      Logger.withMinimumLogLevel(LogLevel.Warning)
    )
  )
  store = Context.get(context, EventStore)
  broadcaster = Context.get(context, Broadcaster)
  url = await Effect.runPromise(Effect.provide(Server.serverUrl, context))
  await putConfig({ security: { rate_limit_per_minute: 1_000_000 } })
}, 60_000)

afterEach(async () => {
  for (const c of clients.splice(0)) c.close()
  await until("every connection gone", connections, (n) => n === 0)
})

afterAll(async () => {
  await Effect.runPromise(Scope.close(scope, Exit.void))
  rmSync(dataDir, { recursive: true, force: true })
})

describe("the SSE broadcaster", () => {
  it("cuts off a client that stops reading, while the appends and a reading client go on", async () => {
    await putConfig({ events: { subscriber_buffer: 16, cut_grace_secs: 30 } })
    const slow = await open()
    const fast = await open()
    await until("both connections live", connections, (n) => n === 2)
    await until("the slow client's retry hint", () => slow.text().startsWith("retry: 1000\n\n"))
    // it stops reading: its socket's buffers fill, then its queue of 16 events
    slow.response.pause()
    const start = await head()
    // 64 KB frames fill the loopback's buffers in a few hundred events; the appends never wait
    // for the slow client (they could not complete while it is paused if they did). Each round is
    // the queue's capacity and the reading client catches up before the next: a reader slowed by a
    // loaded machine never holds more than its capacity, so only the paused one can be cut off.
    const big = `/workspace/${"x".repeat(64 * 1024)}`
    let appended = 0
    while ((await connections()) === 2) {
      expect(appended, "the slow client was never cut off").toBeLessThan(3_000)
      await appendMany(16, { resource: big })
      appended += 16
      const reached = await head()
      await until(`the reading client to reach ${reached}`, () => fast.ids().at(-1), (id) => id === reached, { timeoutMs: 30_000 })
    }
    // more appends after the cut, all committed while the slow client is still paused
    await appendMany(200)
    const last = await head()
    expect(last).toBe(start + appended + 200)
    await until(`the reading client to reach ${last}`, () => fast.ids().at(-1), (id) => id === last, { timeoutMs: 30_000 })
    expect(fast.ids()).toEqual(range(start + 1, last))
    expect(await connections()).toBe(1)

    // reading again: what was written before the cut, in order, then where to resume, then EOF
    slow.response.resume()
    await slow.ended
    const got = slow.ids()
    const resumeAt = got.at(-1)!
    expect(got).toEqual(range(start + 1, resumeAt))
    expect(resumeAt).toBeLessThan(last)
    expect(slow.text().endsWith(`: too far behind; reconnect with Last-Event-ID: ${resumeAt}\n\n`)).toBe(true)
    console.info(`slow client cut off after ${appended} events of 64 KB (${resumeAt - start} written to it)`)

    // and resuming from there gives the rest exactly
    const again = await open("", { "last-event-id": String(resumeAt) })
    await until(`the resumed client to reach ${last}`, () => again.ids().at(-1), (id) => id === last, { timeoutMs: 30_000 })
    expect(again.ids()).toEqual(range(resumeAt + 1, last))
  }, 120_000)

  it("resumes across the backlog→live seam with no gap and no duplicate while appends go on", async () => {
    await putConfig({ events: { subscriber_buffer: 100_000 } })
    await appendMany(500)
    const base = await head()
    await appendMany(2_500)
    // a producer that keeps appending while the clients catch up and go live
    let producing = true
    let produced = 0
    const producer = (async () => {
      while (producing) {
        await appendMany(64, { fibers: 16, ...(produced % 128 === 0 ? { type: "test_noted" } : {}) })
        produced += 64
      }
    })()
    try {
      // resume points deep in the backlog (several pages), near the head, and at it, opened
      // together while the appends go on; one more client filtered
      const points = [base - 400, base + 10, base + 1_300, base + 2_499, ...range(0, 19).map((i) => base + 2_000 + i * 25)]
      const resumed = await Promise.all(points.map(async (from) => ({ from, client: await open("", { "last-event-id": String(from) }) })))
      const filtered = await open("?types=access_decided", { "last-event-id": String(base) })
      await until("every connection live", connections, (n) => n === points.length + 1, { timeoutMs: 30_000 })
      const live = produced
      await until("appends after every connection went live", () => produced, (n) => n >= live + 400, { timeoutMs: 30_000 })
      producing = false
      await producer
      const last = await head()
      for (const { from, client } of resumed) {
        await until(`the client resumed after ${from} to reach ${last}`, () => client.ids().at(-1), (id) => id === last, { timeoutMs: 30_000 })
        expect(client.ids()).toEqual(range(from + 1, last))
      }
      // the events of the other type, as the unfiltered client deepest in the backlog saw them
      const [firstIds, firstTypes] = [resumed[0]!.client.ids(), resumed[0]!.client.types()]
      const others = new Set(firstIds.filter((_, i) => firstTypes[i] === "test_noted"))
      expect(others.size).toBeGreaterThan(0)
      const expected = range(base + 1, last).filter((seq) => !others.has(seq))
      await until("the filtered client to reach its last event", () => filtered.ids().at(-1), (id) => id === expected.at(-1), { timeoutMs: 30_000 })
      expect(filtered.ids()).toEqual(expected)
      expect(new Set(filtered.types())).toEqual(new Set(["access_decided"]))
    } finally {
      producing = false
      await producer
    }
  }, 120_000)
})

describe("the broadcaster's decisions", () => {
  it("writes to a live connection that can take it, queues otherwise, and cuts one that holds more than its capacity", () => {
    expect(deliveryOf({ live: true, full: false, queued: 0, capacity: 16 })).toBe("write")
    expect(deliveryOf({ live: false, full: false, queued: 3, capacity: 16 })).toBe("queue")
    expect(deliveryOf({ live: true, full: true, queued: 16, capacity: 16 })).toBe("queue")
    expect(deliveryOf({ live: true, full: true, queued: 17, capacity: 16 })).toBe("cut")
    expect(deliveryOf({ live: false, full: false, queued: 17, capacity: 16 })).toBe("cut")
  })
})
