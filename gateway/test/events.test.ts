/**
 * Black-box tests of `GET /api/events` (Server-Sent Events of the log) against the real
 * `annal serve`, with the `eventsource` client and raw `node:http` clients.
 *
 * Events are produced through the API: a `PUT /api/config` that changes a value appends one
 * `config_changed`, and every request with a wrong token appends one `access_decided`
 * (`resource` is `GET <path>`, so a long path makes a big frame).
 */
import { EventSource, type EventSourceFetchInit } from "eventsource"
import { createHash } from "node:crypto"
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from "node:http"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { type RunningServer, startServer } from "./harness.js"

let server: RunningServer
/** Subscribers the server has with no SSE client connected (internal consumers, if any). */
let baseSubscribers = 0

// ---------------------------------------------------------------------------------------------
// helpers

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/** Polls `check` until it returns true; fails naming `what` after `timeoutMs`. */
const until = async (what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000, everyMs = 20) => {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(everyMs)
  }
}

const range = (from: number, to: number) => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i)

/** A value of `/api/metrics` (Prometheus text) without labels. */
const metric = async (name: string): Promise<number> => {
  const response = await server.fetch("/api/metrics")
  const text = await response.text()
  const match = new RegExp(`^${name} (\\S+)$`, "m").exec(text)
  if (match === null) throw new Error(`no ${name} in /api/metrics:\n${text.slice(0, 500)}`)
  return Number(match[1])
}
const subscribers = () => metric("annal_event_subscribers")
const headSeq = () => metric("annal_event_log_head_seq")

/** Audit entries with from <= seq <= to (the server answers at most 1000 per call). */
const auditEntries = async (from: number, to: number): Promise<Array<{ seq: number; action: string; resource: string }>> => {
  const out: Array<{ seq: number; action: string; resource: string }> = []
  for (let start = from; start <= to; start += 1000) {
    const { status, body } = await server.json(`/api/audit/entries?from_seq=${start}&to_seq=${Math.min(to, start + 999)}`)
    expect(status).toBe(200)
    out.push(...body.entries)
  }
  return out
}

let historySize = 1000
/** Appends one `config_changed` (a new `resources.history_size`). */
const changeConfig = async () => {
  const { status } = await server.json("/api/config", { method: "PUT", body: JSON.stringify({ resources: { history_size: ++historySize } }) })
  expect(status).toBe(200)
}

const putConfig = async (patch: unknown, token?: string) => {
  const { status, body } = await server.json("/api/config", { method: "PUT", body: JSON.stringify(patch), ...(token === undefined ? {} : { token }) })
  expect(status, JSON.stringify(body)).toBe(200)
}

/** Appends one `access_decided` (a refused token) about `GET <path>`. */
const refused = async (path = "/api/status") => {
  const response = await server.fetch(path, { token: "not-the-token" })
  await response.arrayBuffer()
  expect(response.status).toBe(401)
}

/**
 * A path to `/api/status` whose `access_decided` frame is as big as the server records (the
 * path is cut at 256 characters): the router ends the path at `;`, so it still reaches auth.
 */
const BIG_PATH = `/api/status;${"x".repeat(12_000)}`

/**
 * Sends refused requests, `concurrency` at a time, until `done()` holds (checked every ~50 ms);
 * fails after `max` requests. Returns how many were sent.
 */
const floodUntil = async (done: () => Promise<boolean>, options: { readonly max: number; readonly concurrency?: number; readonly path?: string }) => {
  let sent = 0
  let stop = false
  const worker = async () => {
    while (!stop && sent < options.max) {
      sent++
      await refused(options.path ?? BIG_PATH)
    }
  }
  const watcher = async () => {
    while (!stop) {
      if (await done()) stop = true
      else if (sent >= options.max) break
      else await sleep(50)
    }
  }
  const workers = Array.from({ length: options.concurrency ?? 8 }, worker)
  const watching = watcher()
  await Promise.all(workers)
  if (!stop) await watching
  stop = true
  if (!(await done())) throw new Error(`the condition did not hold after ${sent} requests`)
  return sent
}

/** A background producer of refused requests, one at a time, until stopped. */
const producer = (path = "/api/status") => {
  let running = true
  let count = 0
  const loop = (async () => {
    while (running) {
      await refused(path)
      count++
    }
  })()
  return {
    count: () => count,
    stop: async () => {
      running = false
      await loop
    }
  }
}

// --- raw SSE client over node:http --------------------------------------------------------------

type Block =
  | { readonly kind: "event"; readonly id: number; readonly data: Record<string, unknown>; readonly raw: string }
  | { readonly kind: "comment"; readonly text: string; readonly raw: string }
  | { readonly kind: "retry"; readonly ms: number; readonly raw: string }
  | { readonly kind: "other"; readonly raw: string }

const parseBlock = (raw: string): Block => {
  const lines = raw.split("\n")
  if (lines.every((l) => l.startsWith(":"))) return { kind: "comment", text: lines.map((l) => l.slice(1).trim()).join("\n"), raw }
  if (lines.length === 1 && /^retry: \d+$/.test(lines[0]!)) return { kind: "retry", ms: Number(lines[0]!.slice(7)), raw }
  const id = /^id: (\d+)$/.exec(lines[0] ?? "")
  const data = /^data: (.*)$/.exec(lines[1] ?? "")
  if (lines.length === 2 && id !== null && data !== null) {
    try {
      return { kind: "event", id: Number(id[1]), data: JSON.parse(data[1]!), raw }
    } catch {
      return { kind: "other", raw }
    }
  }
  return { kind: "other", raw }
}

interface RawSse {
  readonly status: number
  readonly headers: IncomingHttpHeaders
  /** Everything received so far. */
  readonly text: () => string
  /** The complete blocks received so far (separated by a blank line). */
  readonly blocks: () => Array<Block>
  readonly events: () => Array<Extract<Block, { kind: "event" }>>
  /** Resolves when the server ends the response (EOF). */
  readonly ended: Promise<void>
  readonly isEnded: () => boolean
  readonly pause: () => void
  readonly resume: () => void
  readonly close: () => void
}

const openRaw: Array<RawSse> = []

/** Opens `GET /api/events<query>` and resolves once the response head is in. */
const openSse = (query = "", headers: Record<string, string> = {}, auth: string | null = server.token): Promise<RawSse> =>
  new Promise((resolve, reject) => {
    const url = new URL(`/api/events${query}`, server.url)
    const req = httpRequest(url, {
      headers: { accept: "text/event-stream", ...(auth === null ? {} : { authorization: `Bearer ${auth}` }), ...headers }
    })
    req.on("error", reject)
    req.on("response", (res: IncomingMessage) => {
      let text = ""
      let ended = false
      res.setEncoding("utf8")
      res.on("data", (d: string) => (text += d))
      const endedPromise = new Promise<void>((r) => {
        res.on("end", () => {
          ended = true
          r()
        })
        res.on("close", () => r())
      })
      res.on("error", () => {})
      const blocks = () => {
        const parts = text.split("\n\n")
        parts.pop() // incomplete (or empty) tail
        return parts.map(parseBlock)
      }
      const client: RawSse = {
        status: res.statusCode ?? 0,
        headers: res.headers,
        text: () => text,
        blocks,
        events: () => blocks().filter((b): b is Extract<Block, { kind: "event" }> => b.kind === "event"),
        ended: endedPromise,
        isEnded: () => ended,
        pause: () => res.pause(),
        resume: () => res.resume(),
        close: () => req.destroy()
      }
      openRaw.push(client)
      resolve(client)
    })
    req.end()
  })

// --- EventSource with the bearer header ----------------------------------------------------------

interface Es {
  readonly source: EventSource
  /** `{id, data}` of every message, in the order `onmessage` saw them, with the connection number. */
  readonly messages: Array<{ readonly id: number; readonly data: Record<string, unknown>; readonly connection: number }>
  /** The `Last-Event-ID` each connection attempt sent (undefined for none). */
  readonly connects: Array<string | undefined>
  readonly errors: Array<unknown>
  readonly opened: Promise<void>
  /** When closed, the client stops reading the response body (its socket then fills up). */
  readonly gate: { closed: boolean; open: () => void }
}

const openEs: Array<Es> = []

const eventSource = (query = ""): Es => {
  const connects: Array<string | undefined> = []
  let wake: Array<() => void> = []
  const gate = {
    closed: false,
    open: () => {
      gate.closed = false
      const w = wake
      wake = []
      for (const f of w) f()
    }
  }
  const gated = (body: ReadableStream<Uint8Array>) => {
    const reader = body.getReader()
    return new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          while (gate.closed) await new Promise<void>((r) => wake.push(r))
          const { done, value } = await reader.read()
          if (done) controller.close()
          else controller.enqueue(value)
        },
        cancel: (reason) => reader.cancel(reason)
      },
      { highWaterMark: 0 }
    )
  }
  const source = new EventSource(new URL(`/api/events${query}`, server.url), {
    fetch: async (input: string | URL, init: EventSourceFetchInit) => {
      const headers: Record<string, string> = { ...init.headers }
      connects.push(headers["Last-Event-ID"])
      const response = await fetch(input, { ...init, headers: { ...headers, authorization: `Bearer ${server.token}` } } as RequestInit)
      if (response.body === null) return response
      return new Response(gated(response.body), { status: response.status, statusText: response.statusText, headers: response.headers })
    }
  })
  const es: Es = {
    source,
    messages: [],
    connects,
    errors: [],
    opened: new Promise<void>((resolve, reject) => {
      source.addEventListener("open", () => resolve(), { once: true })
      setTimeout(() => reject(new Error("EventSource did not open")), 10_000)
    }),
    gate
  }
  source.onmessage = (event) => {
    es.messages.push({ id: Number(event.lastEventId), data: JSON.parse(event.data), connection: connects.length })
  }
  source.onerror = (e) => {
    es.errors.push(e)
  }
  openEs.push(es)
  return es
}

const ids = (list: ReadonlyArray<{ readonly id: number }>) => list.map((m) => m.id)

// ---------------------------------------------------------------------------------------------

beforeAll(async () => {
  // NORMAL only spares fsyncs to keep the floods below quick; the stream does not depend on it.
  server = await startServer({ args: ["--synchronous", "NORMAL"] })
  await putConfig({ security: { rate_limit_per_minute: 1_000_000 } })
  baseSubscribers = await subscribers()
}, 60_000)

afterEach(async () => {
  for (const es of openEs.splice(0)) {
    es.gate.open()
    es.source.close()
  }
  for (const raw of openRaw.splice(0)) raw.close()
  // every stream of the test is gone before the next one starts
  await until("the subscribers to go", async () => (await subscribers()) === baseSubscribers)
})

afterAll(async () => {
  await server?.stop()
})

describe("GET /api/events", () => {
  it("sends `id:` + `data:` frames without an `event:` line, public fields only, with SSE headers", async () => {
    const raw = await openSse()
    expect(raw.status).toBe(200)
    expect(raw.headers["content-type"]).toMatch(/^text\/event-stream/)
    expect(raw.headers["cache-control"]).toBe("no-cache")
    expect(raw.headers["x-accel-buffering"]).toBe("no")
    const es = eventSource()
    await es.opened
    await until("both streams subscribed", async () => (await subscribers()) === baseSubscribers + 2)

    await changeConfig()
    await refused("/api/status")
    await until("two frames on the raw stream", () => raw.events().length >= 2)
    await until("two messages on the EventSource", () => es.messages.length >= 2)

    // the wire: a retry hint, then event blocks of exactly two lines each
    const text = raw.text()
    expect(text).not.toMatch(/^event:/m)
    const blocks = raw.blocks()
    expect(blocks[0]).toEqual({ kind: "retry", ms: 1000, raw: "retry: 1000" })
    const events = blocks.filter((b) => b.kind !== "retry" && b.kind !== "comment")
    expect(events.map((b) => b.kind)).toEqual(["event", "event"])
    for (const b of events) expect(b.raw.split("\n")).toEqual([expect.stringMatching(/^id: \d+$/), expect.stringMatching(/^data: \{.*\}$/)])

    const [changed, decided] = raw.events()
    expect(decided!.id).toBe(changed!.id + 1)
    // the JSON: type, seq equal to the id, and no contents
    expect(changed!.data).toMatchObject({ type: "config_changed", seq: changed!.id, changed: ["resources.history_size"] })
    expect(Object.keys(changed!.data).sort()).toEqual(["actor", "at", "changed", "seq", "stream", "type"])
    expect(decided!.data).toMatchObject({
      type: "access_decided",
      seq: decided!.id,
      action: "authenticate",
      resource: "GET /api/status",
      allowed: false,
      reason: "invalid token"
    })
    // and they are the log's entries at those seqs
    const audit = await auditEntries(changed!.id, decided!.id)
    expect(audit.map((e) => [e.seq, e.action])).toEqual([[changed!.id, "config_changed"], [decided!.id, "authenticate"]])

    // EventSource.onmessage saw the same frames, with lastEventId = seq
    expect(es.messages.map(({ data, id }) => ({ id, data }))).toEqual(raw.events().map(({ data, id }) => ({ id, data })))
    expect(es.errors).toEqual([])

    // an API key set through the config never reaches a stream (neither the key nor its digest)
    const key = "events-test-api-key-0123456789abcdef"
    await putConfig({ security: { api_key: key } })
    // the key now replaces the generated token; clear it again with itself
    await putConfig({ security: { api_key: null } }, key)
    await until("the two key changes on the raw stream", () => raw.events().length >= 4)
    await until("the two key changes on the EventSource", () => es.messages.length >= 4)
    const keyFrames = raw.events().slice(2)
    expect(keyFrames.map((f) => f.data.changed)).toEqual([
      ["security.api_key_set", "security.api_key"],
      ["security.api_key_set", "security.api_key"]
    ])
    const digest = createHash("sha256").update(key, "utf8").digest("hex")
    for (const body of [raw.text(), JSON.stringify(es.messages)]) {
      expect(body).not.toContain(key)
      expect(body).not.toContain(digest)
      expect(body).not.toContain("api_key_sha256")
    }
  })

  it("without Last-Event-ID delivers only what happens after the client connects", async () => {
    await changeConfig()
    await refused()
    const before = await headSeq()
    const raw = await openSse()
    const es = eventSource()
    await es.opened
    await until("both streams subscribed", async () => (await subscribers()) === baseSubscribers + 2)
    await changeConfig()
    await until("the new event", () => raw.events().length >= 1 && es.messages.length >= 1)
    await sleep(200) // room for anything older to (wrongly) show up
    expect(ids(raw.events())).toEqual([before + 1])
    expect(ids(es.messages)).toEqual([before + 1])
    expect(raw.events()[0]!.data.type).toBe("config_changed")
  })

  it("resumes after Last-Event-ID with no loss and no duplicate while events keep coming", async () => {
    const first = await openSse()
    await until("subscribed", async () => (await subscribers()) === baseSubscribers + 1)
    const start = await headSeq()
    const background = producer()
    await until("a few events", () => first.events().length >= 5)
    first.close()
    const k = first.events().at(-1)!.id
    expect(ids(first.events())).toEqual(range(start + 1, k))
    await until("the first stream to be dropped", async () => (await subscribers()) === baseSubscribers)
    // events keep being appended while nobody listens…
    const seen = background.count()
    await until("more events while disconnected", () => background.count() >= seen + 10)
    // …and while the client catches up and goes live again
    const second = await openSse("", { "last-event-id": String(k) })
    expect(second.status).toBe(200)
    await until("the resumed stream to go live", async () => (await subscribers()) === baseSubscribers + 1)
    const live = background.count()
    await until("events after going live", () => background.count() >= live + 10)
    await background.stop()
    const head = await headSeq()
    await until(`the resumed stream to reach ${head}`, () => second.events().at(-1)?.id === head)
    expect(ids(second.events())).toEqual(range(k + 1, head))
    // those are exactly the log's entries after k
    const audit = await auditEntries(k + 1, head)
    expect(audit.map((e) => e.seq)).toEqual(ids(second.events()))
    expect(audit.every((e) => e.action === "authenticate")).toBe(true)
    expect(second.events().every((e) => e.data.type === "access_decided")).toBe(true)
  })

  it("?types=config_changed delivers only config_changed events", async () => {
    const raw = await openSse("?types=config_changed")
    const es = eventSource("?types=config_changed")
    await es.opened
    await until("both streams subscribed", async () => (await subscribers()) === baseSubscribers + 2)
    const start = await headSeq()
    for (let i = 0; i < 3; i++) {
      await refused()
      await changeConfig()
      await refused()
    }
    const head = await headSeq()
    const audit = await auditEntries(start + 1, head)
    expect(audit).toHaveLength(9)
    const wanted = audit.filter((e) => e.action === "config_changed").map((e) => e.seq)
    expect(wanted).toHaveLength(3)
    await until("three frames", () => raw.events().length >= 3 && es.messages.length >= 3)
    await sleep(200)
    expect(ids(raw.events())).toEqual(wanted)
    expect(ids(es.messages)).toEqual(wanted)
    expect(raw.events().every((e) => e.data.type === "config_changed")).toBe(true)
  })

  it("cuts off a client that stops reading, and keeps feeding the fast one every event in order", async () => {
    await putConfig({ events: { subscriber_buffer: 16 } })
    const slow = await openSse()
    await until("the slow stream's retry hint", () => slow.blocks().length >= 1)
    slow.pause()
    const fast = eventSource()
    await fast.opened
    await until("both streams subscribed", async () => (await subscribers()) === baseSubscribers + 2)
    const start = await headSeq()

    // big frames fill the slow client's socket buffers; then its 16-event buffer overflows
    const t0 = Date.now()
    const sent = await floodUntil(async () => (await subscribers()) === baseSubscribers + 1, { max: 40_000 })
    const cutAfterMs = Date.now() - t0
    // the fast client is still subscribed; more events reach it after the cut
    for (let i = 0; i < 20; i++) await refused(BIG_PATH)
    const head = await headSeq()
    await until(`the fast client to reach ${head}`, () => fast.messages.at(-1)?.id === head, 15_000)
    expect(ids(fast.messages)).toEqual(range(start + 1, head))
    expect(fast.connects).toEqual([undefined]) // one connection, never cut
    expect(fast.errors).toEqual([])
    expect(await subscribers()).toBe(baseSubscribers + 1)

    // the slow client, reading again, gets what was buffered, the resume hint, and EOF
    slow.resume()
    await Promise.race([slow.ended, sleep(10_000)])
    expect(slow.isEnded()).toBe(true)
    const blocks = slow.blocks()
    const events = slow.events()
    const last = events.at(-1)!.id
    expect(ids(events)).toEqual(range(start + 1, last))
    expect(last).toBeLessThan(head)
    expect(blocks.at(-1)).toEqual({
      kind: "comment",
      text: `too far behind; reconnect with Last-Event-ID: ${last}`,
      raw: `: too far behind; reconnect with Last-Event-ID: ${last}`
    })
    expect(slow.text().endsWith(`${blocks.at(-1)!.raw}\n\n`)).toBe(true)
    console.info(`slow client cut off after ${sent} events of ~500 bytes (${last - start} delivered) in ${cutAfterMs} ms`)
  }, 40_000)

  it("EventSource reconnects by itself after being cut off and resumes without gap or duplicate", async () => {
    await putConfig({ events: { subscriber_buffer: 16 } })
    const es = eventSource()
    await es.opened
    await until("subscribed", async () => (await subscribers()) === baseSubscribers + 1)
    const start = await headSeq()
    await refused()
    await refused()
    await until("two messages", () => es.messages.length >= 2)
    // stop reading; the server cuts the stream once its buffers are full
    es.gate.closed = true
    await floodUntil(async () => (await subscribers()) === baseSubscribers, { max: 40_000 })
    // events the first connection can no longer carry
    for (let i = 0; i < 10; i++) await refused()
    // read again: the backlog, then EOF; EventSource reconnects after `retry` with Last-Event-ID
    const background = producer()
    es.gate.open()
    await until("the reconnect", () => es.connects.length >= 2)
    await until("the second connection to go live", async () => (await subscribers()) === baseSubscribers + 1)
    const live = background.count()
    await until("events after going live", () => background.count() >= live + 10)
    await background.stop()
    const head = await headSeq()
    await until(`the EventSource to reach ${head}`, () => es.messages.at(-1)?.id === head, 15_000)
    expect(ids(es.messages)).toEqual(range(start + 1, head))
    const firstConnection = es.messages.filter((m) => m.connection === 1)
    const lastOfFirst = firstConnection.at(-1)!.id
    expect(lastOfFirst).toBeLessThan(head - 10)
    expect(es.connects).toEqual([undefined, String(lastOfFirst)])
    expect(es.messages.filter((m) => m.connection === 2)[0]!.id).toBe(lastOfFirst + 1)
  }, 40_000)

  it("sends a `: ping` comment every events.ping_interval_secs on an idle stream", async () => {
    await putConfig({ events: { ping_interval_secs: 1 } })
    try {
      const raw = await openSse()
      const t0 = Date.now()
      await until("a ping", () => raw.blocks().some((b) => b.kind === "comment" && b.text === "ping"), 2500, 10)
      expect(Date.now() - t0).toBeLessThan(2500)
      expect(raw.events()).toEqual([])
      expect(raw.text()).toContain("\n: ping\n\n")
    } finally {
      await putConfig({ events: { ping_interval_secs: 30 } })
    }
  })

  it("accepts ?token= (EventSource in a browser sends no headers) and refuses a wrong one with 401", async () => {
    const ok = await openSse(`?token=${encodeURIComponent(server.token)}`, {}, null)
    expect(ok.status).toBe(200)
    expect(ok.headers["content-type"]).toMatch(/^text\/event-stream/)
    await until("subscribed", async () => (await subscribers()) === baseSubscribers + 1)
    await changeConfig()
    await until("a frame", () => ok.events().length === 1)

    const wrong = await openSse("?token=not-the-token", {}, null)
    expect(wrong.status).toBe(401)
    await wrong.ended
    expect(JSON.parse(wrong.text())).toEqual({ error: "unauthorized: invalid token" })
    const missing = await openSse("", {}, null)
    expect(missing.status).toBe(401)
    await missing.ended
    expect(JSON.parse(missing.text())).toEqual({ error: "unauthorized: missing token" })
  })

  it("answers 400 {error} to a Last-Event-ID that is not a seq", async () => {
    for (const bad of ["abc", "-1", "1.5"]) {
      const raw = await openSse("", { "last-event-id": bad })
      expect(raw.status, bad).toBe(400)
      await raw.ended
      const body = JSON.parse(raw.text())
      expect(Object.keys(body)).toEqual(["error"])
      expect(body.error).toContain("Last-Event-ID")
    }
  })

  it("counts live SSE clients in annal_event_subscribers, and drops them when they leave", async () => {
    expect(await subscribers()).toBe(baseSubscribers)
    const a = await openSse()
    await until("one subscriber", async () => (await subscribers()) === baseSubscribers + 1)
    const b = eventSource()
    await b.opened
    await until("two subscribers", async () => (await subscribers()) === baseSubscribers + 2)
    a.close()
    await until("back to one", async () => (await subscribers()) === baseSubscribers + 1)
    b.source.close()
    await until("back to none", async () => (await subscribers()) === baseSubscribers)
  })
})
