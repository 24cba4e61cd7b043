/**
 * Black-box tests of `GET /api/events` (Server-Sent Events of the log) against the real
 * `annal serve`, with the `eventsource` client and raw `node:http` clients.
 *
 * Events are produced through the API: a `PUT /api/config` that changes a value appends one
 * `config_changed`, and every request with a wrong token appends one `access_decided`
 * (`resource` is `GET <path>`, so a long path makes a big frame).
 *
 * A client that stops reading is a relay in a child process (python3) whose socket to the server
 * has a tiny receive buffer and a small MSS: when paused, backpressure reaches the server after
 * ~100-200 frames, where a paused Node socket would first soak up megabytes.
 */
import { EventSource, type EventSourceFetchInit } from "eventsource"
import { execFileSync, spawn } from "node:child_process"
import { createHash } from "node:crypto"
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from "node:http"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { type RunningServer, startServer, until } from "./harness.js"

let server: RunningServer
/** Subscribers the server has with no SSE client connected (internal consumers, if any). */
let baseSubscribers = 0

/**
 * Aborted when the running test ends (passed, failed or timed out): the loops and waits it
 * started stop with it, so none of them runs on into the next test.
 */
let testEnd = new AbortController()
/** Background loops of the running test (floods, producers); afterEach waits for them to stop. */
const loops = new Set<Promise<unknown>>()
const track = <A>(loop: Promise<A>): Promise<A> => {
  loops.add(loop)
  loop.then(() => loops.delete(loop), () => loops.delete(loop))
  return loop
}

// ---------------------------------------------------------------------------------------------
// helpers

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

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
 * Sends refused requests, `concurrency` at a time, until `done()` holds (checked every ~20 ms);
 * fails after `max` requests. Stops as soon as `done()` holds, a request fails or the test ends.
 * Returns how many were sent.
 */
const floodUntil = async (done: () => Promise<boolean>, options: { readonly max: number; readonly concurrency?: number; readonly path?: string }) => {
  const signal = testEnd.signal
  let sent = 0
  let stop = false
  const worker = async () => {
    while (!stop && !signal.aborted && sent < options.max) {
      sent++
      await refused(options.path ?? BIG_PATH)
    }
  }
  const workers = track(Promise.all(Array.from({ length: options.concurrency ?? 4 }, worker)))
  let failed = false
  workers.catch(() => (failed = true))
  try {
    while (!(await done())) {
      if (failed) break
      if (signal.aborted) throw new Error("the test ended during the flood")
      if (sent >= options.max) {
        await workers
        if (await done()) break
        throw new Error(`the condition did not hold after ${sent} requests`)
      }
      await sleep(20)
    }
  } finally {
    stop = true
  }
  await workers
  return sent
}

/** A background producer of refused requests, one at a time, until stopped (or the test ends). */
const producer = (path = "/api/status") => {
  const signal = testEnd.signal
  let running = true
  let count = 0
  const loop = track((async () => {
    while (running && !signal.aborted) {
      await refused(path)
      count++
    }
  })())
  return {
    count: () => count,
    stop: async () => {
      running = false
      await loop
    }
  }
}

// --- a slow reader: a relay with a tiny receive buffer and MSS -----------------------------------

/**
 * A TCP relay to the server (python3, standard library only). Before its socket to the server
 * connects it sets SO_RCVBUF = argv[3], so the window it offers stays tiny, and TCP_MAXSEG =
 * argv[4]: the server's kernel sizes its send buffer from the peer's MSS, and loopback's 64 KB
 * MSS would let it grow to tcp_wmem's maximum (4 MB, thousands of frames) whatever the receive
 * buffer. A line `pause` on stdin stops reading from the server (its writes then back up after
 * ~50-100 KB), `resume` reads again; each is acknowledged by echoing it on stdout once it holds.
 * Prints `port <n>` when listening; exits when stdin closes.
 */
const RELAY_PY = String.raw`
import os, socket, sys, threading
host, port, rcvbuf, mss = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
reading = threading.Event()
reading.set()
listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.bind(("127.0.0.1", 0))
listener.listen(16)

def shut(*socks):
    for s in socks:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

def pipe(src, dst, gated):
    try:
        while True:
            if gated:
                reading.wait()
            data = src.recv(512 if gated else 65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    shut(src, dst)

def serve():
    while True:
        client, _ = listener.accept()
        upstream = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        upstream.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, mss)
        try:
            upstream.connect((host, port))
        except OSError:
            client.close()
            continue
        print("upstream %d" % upstream.getsockname()[1], flush=True)
        threading.Thread(target=pipe, args=(client, upstream, False), daemon=True).start()
        threading.Thread(target=pipe, args=(upstream, client, True), daemon=True).start()

threading.Thread(target=serve, daemon=True).start()
print("port %d" % listener.getsockname()[1], flush=True)
for line in sys.stdin:
    command = line.strip()
    if command == "pause":
        reading.clear()
    elif command == "resume":
        reading.set()
    print(command, flush=True)
os._exit(0)
`

interface Relay {
  /** The relay's base URL, in place of the server's. */
  readonly url: string
  /** Stops reading from the server. */
  readonly pause: () => Promise<void>
  /** Reads from the server again. */
  readonly resume: () => Promise<void>
  /** Kills the relay; its connections to the server close. */
  readonly close: () => Promise<void>
  /** Local ports of the relay's connections to the server, in the order they were made. */
  readonly upstreamPorts: ReadonlyArray<number>
}

const openRelays: Array<Relay> = []

/** Starts a relay to the server whose server-side sockets have a `rcvbuf`-byte receive buffer and an `mss`-byte MSS. */
const slowRelay = (rcvbuf = 2048, mss = 536): Promise<Relay> =>
  new Promise((resolve, reject) => {
    const target = new URL(server.url)
    const child = spawn("python3", ["-u", "-c", RELAY_PY, target.hostname, target.port, String(rcvbuf), String(mss)], {
      stdio: ["pipe", "pipe", "pipe"]
    })
    const exited = new Promise<void>((r) => child.on("exit", () => r()))
    let stderr = ""
    let pending = ""
    const acks: Array<{ readonly line: string; readonly done: () => void }> = []
    const upstreamPorts: Array<number> = []
    child.stderr!.on("data", (d) => (stderr += d))
    child.on("error", reject)
    child.on("exit", (code) => reject(new Error(`the relay exited with ${code}: ${stderr}`)))
    const command = (line: string) =>
      new Promise<void>((done, fail) => {
        const timer = setTimeout(() => fail(new Error(`the relay did not acknowledge ${line}: ${stderr}`)), 5_000)
        acks.push({ line, done: () => (clearTimeout(timer), done()) })
        child.stdin!.write(`${line}\n`)
      })
    child.stdout!.setEncoding("utf8")
    child.stdout!.on("data", (d: string) => {
      pending += d
      let newline: number
      while ((newline = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, newline)
        pending = pending.slice(newline + 1)
        const port = /^port (\d+)$/.exec(line)
        if (port !== null) {
          const relay: Relay = {
            url: `http://127.0.0.1:${port[1]}`,
            pause: () => command("pause"),
            resume: () => command("resume"),
            close: async () => {
              if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
              await exited
            },
            upstreamPorts
          }
          openRelays.push(relay)
          resolve(relay)
        } else if (/^upstream \d+$/.test(line)) upstreamPorts.push(Number(line.slice("upstream ".length)))
        else if (acks[0]?.line === line) acks.shift()!.done()
      }
    })
  })

/**
 * The most refused requests a flood may take to cut off a stream through a paused relay: it took
 * 110-190 (~500-byte frames) when measured (the tests log it); this leaves room for a slower machine.
 */
const FLOOD_MAX = 1_500

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
  readonly close: () => void
}

const openRaw: Array<RawSse> = []

/** Opens `GET /api/events<query>` (at the server, or at `base`) and resolves once the response head is in. */
const openSse = (query = "", headers: Record<string, string> = {}, auth: string | null = server.token, base = server.url): Promise<RawSse> =>
  new Promise((resolve, reject) => {
    const url = new URL(`/api/events${query}`, base)
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
}

const openEs: Array<Es> = []

/** An EventSource on `GET /api/events<query>`, at the server or at `base` (a relay). */
const eventSource = (query = "", base = server.url): Es => {
  const connects: Array<string | undefined> = []
  const source = new EventSource(new URL(`/api/events${query}`, base), {
    fetch: (input: string | URL, init: EventSourceFetchInit) => {
      const headers: Record<string, string> = { ...init.headers }
      connects.push(headers["Last-Event-ID"])
      return fetch(input, { ...init, headers: { ...headers, authorization: `Bearer ${server.token}` } } as RequestInit)
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
    })
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
  // whatever the test left running stops here: its loops first (no more events), then its clients
  const ended = testEnd
  testEnd = new AbortController()
  ended.abort()
  await Promise.allSettled([...loops])
  for (const es of openEs.splice(0)) es.source.close()
  for (const raw of openRaw.splice(0)) raw.close()
  await Promise.all(openRelays.splice(0).map((relay) => relay.close()))
  // every stream of the test is gone before the next one starts
  await until("the subscribers to go", async () => (await subscribers()) === baseSubscribers, Boolean, { signal: testEnd.signal })
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
    await until("both streams subscribed", async () => (await subscribers()) === baseSubscribers + 2, Boolean, { signal: testEnd.signal })

    await changeConfig()
    await refused("/api/status")
    await until("two frames on the raw stream", () => raw.events().length >= 2, Boolean, { signal: testEnd.signal })
    await until("two messages on the EventSource", () => es.messages.length >= 2, Boolean, { signal: testEnd.signal })

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
    await until("the two key changes on the raw stream", () => raw.events().length >= 4, Boolean, { signal: testEnd.signal })
    await until("the two key changes on the EventSource", () => es.messages.length >= 4, Boolean, { signal: testEnd.signal })
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
    await until("both streams subscribed", async () => (await subscribers()) === baseSubscribers + 2, Boolean, { signal: testEnd.signal })
    await changeConfig()
    await until("the new event", () => raw.events().length >= 1 && es.messages.length >= 1, Boolean, { signal: testEnd.signal })
    await sleep(200) // room for anything older to (wrongly) show up
    expect(ids(raw.events())).toEqual([before + 1])
    expect(ids(es.messages)).toEqual([before + 1])
    expect(raw.events()[0]!.data.type).toBe("config_changed")
  })

  it("resumes after Last-Event-ID with no loss and no duplicate while events keep coming", async () => {
    const first = await openSse()
    await until("subscribed", async () => (await subscribers()) === baseSubscribers + 1, Boolean, { signal: testEnd.signal })
    const start = await headSeq()
    const background = producer()
    await until("a few events", () => first.events().length >= 5, Boolean, { signal: testEnd.signal })
    first.close()
    const k = first.events().at(-1)!.id
    expect(ids(first.events())).toEqual(range(start + 1, k))
    await until("the first stream to be dropped", async () => (await subscribers()) === baseSubscribers, Boolean, { signal: testEnd.signal })
    // events keep being appended while nobody listens…
    const seen = background.count()
    await until("more events while disconnected", () => background.count() >= seen + 10, Boolean, { signal: testEnd.signal })
    // …and while the client catches up and goes live again
    const second = await openSse("", { "last-event-id": String(k) })
    expect(second.status).toBe(200)
    await until("the resumed stream to go live", async () => (await subscribers()) === baseSubscribers + 1, Boolean, { signal: testEnd.signal })
    const live = background.count()
    await until("events after going live", () => background.count() >= live + 10, Boolean, { signal: testEnd.signal })
    await background.stop()
    const head = await headSeq()
    await until(`the resumed stream to reach ${head}`, () => second.events().at(-1)?.id === head, Boolean, { signal: testEnd.signal })
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
    await until("both streams subscribed", async () => (await subscribers()) === baseSubscribers + 2, Boolean, { signal: testEnd.signal })
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
    await until("three frames", () => raw.events().length >= 3 && es.messages.length >= 3, Boolean, { signal: testEnd.signal })
    await sleep(200)
    expect(ids(raw.events())).toEqual(wanted)
    expect(ids(es.messages)).toEqual(wanted)
    expect(raw.events().every((e) => e.data.type === "config_changed")).toBe(true)
  })

  it("cuts off a client that stops reading, and keeps feeding the fast one every event in order", async () => {
    await putConfig({ events: { subscriber_buffer: 16 } })
    const relay = await slowRelay()
    const slow = await openSse("", {}, server.token, relay.url)
    await until("the slow stream's retry hint", () => slow.blocks().length >= 1, Boolean, { signal: testEnd.signal })
    await relay.pause()
    const fast = eventSource()
    await fast.opened
    await until("both streams subscribed", async () => (await subscribers()) === baseSubscribers + 2, Boolean, { signal: testEnd.signal })
    const start = await headSeq()

    // big frames fill the slow client's (small) socket buffers; then its 16-event buffer overflows
    const t0 = Date.now()
    const sent = await floodUntil(async () => (await subscribers()) === baseSubscribers + 1, { max: FLOOD_MAX })
    const cutAfterMs = Date.now() - t0
    // the fast client is still subscribed; more events reach it after the cut
    for (let i = 0; i < 20; i++) await refused(BIG_PATH)
    const head = await headSeq()
    await until(`the fast client to reach ${head}`, () => fast.messages.at(-1)?.id === head, Boolean, { timeoutMs: 15_000, signal: testEnd.signal })
    expect(ids(fast.messages)).toEqual(range(start + 1, head))
    expect(fast.connects).toEqual([undefined]) // one connection, never cut
    expect(fast.errors).toEqual([])
    expect(await subscribers()).toBe(baseSubscribers + 1)

    // the slow client, reading again, gets what was buffered, the resume hint, and EOF
    await relay.resume()
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
  }, 30_000)

  it("closes the connection of a cut-off client that never reads again, after events.cut_grace_secs", async () => {
    await putConfig({ events: { subscriber_buffer: 16, cut_grace_secs: 1 } })
    const relay = await slowRelay()
    await openSse("", {}, server.token, relay.url)
    await until("the relay's connection", () => relay.upstreamPorts.length === 1, Boolean, { signal: testEnd.signal })
    const serverPort = new URL(server.url).port
    const established = () =>
      execFileSync("ss", ["-tnH", "state", "established", `( sport = :${serverPort} and dport = :${relay.upstreamPorts[0]} )`]).toString().trim()
    await until("the stream subscribed", async () => (await subscribers()) === baseSubscribers + 1, Boolean, { signal: testEnd.signal })
    await relay.pause()
    expect(established()).not.toBe("")
    await floodUntil(async () => (await subscribers()) === baseSubscribers, { max: FLOOD_MAX })
    const cutAt = Date.now()
    // still paused: the server itself must drop the connection once the grace has passed
    await until("the server to close the stalled connection", () => established() === "", Boolean, { timeoutMs: 8_000, signal: testEnd.signal })
    expect(Date.now() - cutAt).toBeGreaterThanOrEqual(500)
  }, 30_000)

  it("EventSource reconnects by itself after being cut off and resumes without gap or duplicate", async () => {
    await putConfig({ events: { subscriber_buffer: 16 } })
    // through a relay that can stop reading (it carries the reconnect too)
    const relay = await slowRelay()
    const es = eventSource("", relay.url)
    await es.opened
    await until("subscribed", async () => (await subscribers()) === baseSubscribers + 1, Boolean, { signal: testEnd.signal })
    const start = await headSeq()
    await refused()
    await refused()
    await until("two messages", () => es.messages.length >= 2, Boolean, { signal: testEnd.signal })
    // stop reading; the server cuts the stream once its buffers are full
    await relay.pause()
    const t0 = Date.now()
    const sent = await floodUntil(async () => (await subscribers()) === baseSubscribers, { max: FLOOD_MAX })
    const cutAfterMs = Date.now() - t0
    // events the first connection can no longer carry
    for (let i = 0; i < 10; i++) await refused()
    // read again: the backlog, then EOF; EventSource reconnects after `retry` with Last-Event-ID
    const background = producer()
    await relay.resume()
    await until("the reconnect", () => es.connects.length >= 2, Boolean, { signal: testEnd.signal })
    await until("the second connection to go live", async () => (await subscribers()) === baseSubscribers + 1, Boolean, { signal: testEnd.signal })
    const live = background.count()
    await until("events after going live", () => background.count() >= live + 10, Boolean, { signal: testEnd.signal })
    await background.stop()
    const head = await headSeq()
    await until(`the EventSource to reach ${head}`, () => es.messages.at(-1)?.id === head, Boolean, { timeoutMs: 15_000, signal: testEnd.signal })
    expect(ids(es.messages)).toEqual(range(start + 1, head))
    const firstConnection = es.messages.filter((m) => m.connection === 1)
    const lastOfFirst = firstConnection.at(-1)!.id
    expect(lastOfFirst).toBeLessThan(head - 10)
    expect(es.connects).toEqual([undefined, String(lastOfFirst)])
    expect(es.messages.filter((m) => m.connection === 2)[0]!.id).toBe(lastOfFirst + 1)
    console.info(`EventSource cut off after ${sent} events of ~500 bytes (${lastOfFirst - start} delivered) in ${cutAfterMs} ms`)
  }, 30_000)

  it("sends a `: ping` comment every events.ping_interval_secs on an idle stream", async () => {
    await putConfig({ events: { ping_interval_secs: 1 } })
    try {
      const raw = await openSse()
      const t0 = Date.now()
      await until("a ping", () => raw.blocks().some((b) => b.kind === "comment" && b.text === "ping"), Boolean, { timeoutMs: 2500, everyMs: 10, signal: testEnd.signal })
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
    await until("subscribed", async () => (await subscribers()) === baseSubscribers + 1, Boolean, { signal: testEnd.signal })
    await changeConfig()
    await until("a frame", () => ok.events().length === 1, Boolean, { signal: testEnd.signal })

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
    await until("one subscriber", async () => (await subscribers()) === baseSubscribers + 1, Boolean, { signal: testEnd.signal })
    const b = eventSource()
    await b.opened
    await until("two subscribers", async () => (await subscribers()) === baseSubscribers + 2, Boolean, { signal: testEnd.signal })
    a.close()
    await until("back to one", async () => (await subscribers()) === baseSubscribers + 1, Boolean, { signal: testEnd.signal })
    b.source.close()
    await until("back to none", async () => (await subscribers()) === baseSubscribers, Boolean, { signal: testEnd.signal })
  })
})
