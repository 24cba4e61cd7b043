/**
 * The audit trail over HTTP (seed section 11), black-box against the real server, and what a
 * tampered `annal.db` looks like to `annal audit verify`, `GET /api/audit/verify` and
 * `GET /api/status`.
 */
import Database from "better-sqlite3"
import { createHash } from "node:crypto"
import { cpSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { runCli, type RunningServer, startServer, tempDir } from "./harness.js"

const GENESIS = `sha256:${"0".repeat(64)}`
const HASH = /^sha256:[0-9a-f]{64}$/
const bare = (h: string) => h.replace(/^sha256:/, "")

interface Entry {
  readonly seq: number
  readonly timestamp: string
  readonly agent_name: string
  readonly action: string
  readonly resource: string
  readonly allowed: boolean
  readonly hash: string
  readonly prev_hash: string
  readonly type: string
  readonly stream: string
  readonly actor: string
  readonly data: Record<string, unknown>
  readonly meta: Record<string, unknown>
}

const put = (s: RunningServer, patch: unknown) => s.json("/api/config", { method: "PUT", body: JSON.stringify(patch) })

/** Raises the rate limit (one config_changed event), so bursts are not refused. */
const raiseRateLimit = async (s: RunningServer) => expect((await put(s, { security: { rate_limit_per_minute: 100_000 } })).status).toBe(200)

/**
 * The head seq right after start: the server appends events of its own at its first start (the
 * default persona, for one), so a test's events come after these.
 */
const startHead = async (s: RunningServer): Promise<number> => {
  const { status, body } = await s.json("/api/status")
  expect(status).toBe(200)
  const head = body.components.state_store.head_seq
  expect(Number.isInteger(head)).toBe(true)
  return head
}

/** One refused request: one access_decided event. */
const refused = async (s: RunningServer, path: string) => expect((await s.fetch(path, { token: "not-the-token" })).status).toBe(401)

/**
 * Eight events, in this order (after the start-up events, so at `base + n`):
 *   1 config_changed (rate limit)   2 config_changed (history 1001)   3 refused GET /api/status
 *   4 config_changed (history 1002) 5 refused GET /api/config         6 config_changed (history 1003)
 *   7 refused GET /api/audit        8 config_changed (history 1004)
 */
const KNOWN_ACTIONS = [
  "config_changed",
  "config_changed",
  "authenticate",
  "config_changed",
  "authenticate",
  "config_changed",
  "authenticate",
  "config_changed"
]
const writeKnownEvents = async (s: RunningServer) => {
  await raiseRateLimit(s)
  expect((await put(s, { resources: { history_size: 1001 } })).status).toBe(200)
  await refused(s, "/api/status")
  expect((await put(s, { resources: { history_size: 1002 } })).status).toBe(200)
  await refused(s, "/api/config")
  expect((await put(s, { resources: { history_size: 1003 } })).status).toBe(200)
  await refused(s, "/api/audit")
  expect((await put(s, { resources: { history_size: 1004 } })).status).toBe(200)
}

describe("the audit endpoints over a log of known events", () => {
  let server: RunningServer
  /** Every entry: the start-up events, then the eight known ones. */
  let entries: ReadonlyArray<Entry>
  /** The head seq before the known events. */
  let base: number
  /** The eight known events. */
  let known: ReadonlyArray<Entry>

  beforeAll(async () => {
    server = await startServer()
    base = await startHead(server)
    await writeKnownEvents(server)
    const { status, body } = await server.json("/api/audit/entries")
    expect(status).toBe(200)
    entries = body.entries
    known = entries.slice(base)
  }, 60_000)
  afterAll(async () => {
    await server?.stop()
  })

  it("GET /api/audit/entries lists every event as an entry of the seed's shape", async () => {
    const { body } = await server.json("/api/audit/entries?from_seq=0&to_seq=100")
    expect(body.count).toBe(base + 8)
    expect(body.entries).toEqual(entries)
    expect(entries.map((e) => e.seq)).toEqual(Array.from({ length: base + 8 }, (_, i) => i + 1))
    expect(known.map((e) => e.action)).toEqual(KNOWN_ACTIONS)
    for (const e of entries) {
      expect(Object.keys(e).sort()).toEqual(["action", "actor", "agent_name", "allowed", "data", "hash", "meta", "prev_hash", "resource", "seq", "stream", "timestamp", "type"])
      expect(e.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
      expect(e.hash).toMatch(HASH)
      expect(e.prev_hash).toMatch(HASH)
    }
    for (const e of known) {
      if (e.action === "config_changed") {
        expect(e).toMatchObject({ agent_name: "user:api", resource: "config", allowed: true })
      } else {
        expect(e).toMatchObject({ agent_name: "api:127.0.0.1", action: "authenticate", allowed: false })
      }
    }
    expect(entries.filter((e) => e.action === "authenticate").map((e) => e.resource)).toEqual([
      "GET /api/status",
      "GET /api/config",
      "GET /api/audit"
    ])
  })

  it("an entry carries its event's type, stream, actor, data and meta exactly as the log holds them", async () => {
    // the same events read as the log's own rows, stream by stream
    for (const e of known) {
      const stream = await server.json<{ items: ReadonlyArray<{ seq: number; type: string; stream: string; actor: string; data: unknown; meta: unknown }> }>(
        `/api/log/streams/${encodeURIComponent(e.stream)}?limit=500`
      )
      const row = stream.body.items.find((r) => r.seq === e.seq)
      expect(row).toBeDefined()
      expect({ type: e.type, stream: e.stream, actor: e.actor, data: e.data, meta: e.meta }).toEqual({ type: row!.type, stream: row!.stream, actor: row!.actor, data: row!.data, meta: row!.meta })
    }
    const changes = known.filter((e) => e.action === "config_changed")
    expect(JSON.stringify(changes.map((e) => e.data))).toMatch(/1001.*1002.*1003.*1004/)
    // an access decision reads as the decision, and keeps the event's own names beside it
    const refusal = known.find((e) => e.action === "authenticate")!
    expect(refusal).toMatchObject({ type: "access_decided", resource: "GET /api/status", allowed: false })
    expect(refusal.stream).not.toBe(refusal.resource)
    expect(refusal.data).toMatchObject({ allowed: false, resource: "GET /api/status" })
  })

  it("the hashes chain: the first links to 64 zeros, each next one to the one before", () => {
    expect(entries[0]!.prev_hash).toBe(GENESIS)
    for (let i = 1; i < entries.length; i++) expect(entries[i]!.prev_hash).toBe(entries[i - 1]!.hash)
    expect(new Set(entries.map((e) => e.hash)).size).toBe(entries.length)
  })

  it("from_seq and to_seq select an inclusive range", async () => {
    const middle = await server.json(`/api/audit/entries?from_seq=${base + 3}&to_seq=${base + 5}`)
    expect(middle.status).toBe(200)
    expect(middle.body).toEqual({ entries: known.slice(2, 5), count: 3 })
    const tail = await server.json(`/api/audit/entries?from_seq=${base + 7}`)
    expect(tail.body.entries.map((e: Entry) => e.seq)).toEqual([base + 7, base + 8])
    const beyond = await server.json(`/api/audit/entries?from_seq=${base + 9}&to_seq=${base + 50}`)
    expect(beyond.body).toEqual({ entries: [], count: 0 })
  })

  it("GET /api/audit/verify reports a sound chain and how many entries it walked", async () => {
    const { status, body } = await server.json("/api/audit/verify")
    expect(status).toBe(200)
    expect(body).toEqual({
      valid: true,
      entry_count: base + 8,
      // and the log is consistent with the checkpoint the server signed at start
      checkpoint: {
        ok: true,
        problems: [],
        checkpoints: [{ source: "data directory", path: expect.stringMatching(/checkpoint$/), size: expect.any(Number), root: expect.stringMatching(/^[0-9a-f]{64}$/) }],
        head: { seq: base + 8, hash: expect.stringMatching(/^[0-9a-f]{64}$/) }
      }
    })
  })

  it("GET /api/audit/agent/{id} lists what was decided about a subject, and nothing for an unknown one", async () => {
    const { status, body } = await server.json("/api/audit/agent/api:127.0.0.1")
    expect(status).toBe(200)
    const decisions = known.filter((e) => e.action === "authenticate")
    expect(body).toEqual({
      entries: decisions.map(({ seq, agent_name, action, resource, allowed }) => ({ seq, agent_name, action, resource, allowed })),
      count: 3
    })
    const encoded = await server.json(`/api/audit/agent/${encodeURIComponent("api:127.0.0.1")}`)
    expect(encoded.body.count).toBe(3)
    const unknown = await server.json("/api/audit/agent/no-such-agent")
    expect(unknown.status).toBe(200)
    expect(unknown.body).toEqual({ entries: [], count: 0 })
  })

  it("POST /api/audit/export returns the entries as JSON text, from a seq, in pages", async () => {
    const all = await server.json("/api/audit/export", { method: "POST", body: JSON.stringify({ from_seq: 0 }) })
    expect(all.status).toBe(200)
    expect(all.body.entry_count).toBe(base + 8)
    expect(all.body.next_seq).toBeNull()
    expect(JSON.parse(all.body.json)).toEqual(entries)

    const empty = await server.json("/api/audit/export", { method: "POST", body: "{}" })
    expect(JSON.parse(empty.body.json)).toEqual(entries)

    const from = await server.json("/api/audit/export", { method: "POST", body: JSON.stringify({ from_seq: base + 6 }) })
    expect(from.body).toMatchObject({ entry_count: 3, next_seq: null })
    expect(JSON.parse(from.body.json)).toEqual(known.slice(5))

    const page = await server.json("/api/audit/export", { method: "POST", body: JSON.stringify({ from_seq: base + 2, limit: 3 }) })
    expect(page.body).toMatchObject({ entry_count: 3, next_seq: base + 5 })
    expect(JSON.parse(page.body.json)).toEqual(known.slice(1, 4))
  })

  it("POST /api/audit/flush is honest: nothing was pending, and it appends nothing", async () => {
    const { status, body } = await server.json("/api/audit/flush", { method: "POST" })
    expect(status).toBe(200)
    expect(body).toMatchObject({ flushed: 0, entry_count: base + 8, detail: expect.any(String) })
    expect((await server.json("/api/audit/verify")).body).toMatchObject({ valid: true, entry_count: base + 8, checkpoint: { ok: true, problems: [] } })
  })

  it("legacy GET /api/audit pages through the access decisions, newest first", async () => {
    const { status, body } = await server.json("/api/audit")
    expect(status).toBe(200)
    expect(body).toMatchObject({ total: 3, page: 1, limit: 50 })
    const decisions = known.filter((e) => e.action === "authenticate").reverse()
    expect(body.items).toEqual(
      decisions.map((e) => ({
        timestamp: e.timestamp,
        agent_name: "api:127.0.0.1",
        action: "authenticate",
        resource: e.resource,
        allowed: false,
        reason: "invalid token"
      }))
    )
    const second = await server.json("/api/audit?page=2&limit=1")
    expect(second.body).toMatchObject({ total: 3, page: 2, limit: 1 })
    expect(second.body.items.map((i: { resource: string }) => i.resource)).toEqual(["GET /api/config"])
  })

  it.each([
    ["from_seq=-1", "from_seq"],
    ["from_seq=abc", "from_seq"],
    ["from_seq=1.5", "from_seq"],
    ["to_seq=-1", "to_seq"]
  ])("GET /api/audit/entries?%s answers 400 naming the field", async (query, field) => {
    const { status, body } = await server.json(`/api/audit/entries?${query}`)
    expect(status).toBe(400)
    expect(body.error).toContain(`"${field}"`)
  })

  it.each([
    [{ from_seq: "x" }, "from_seq"],
    [{ from_seq: -1 }, "from_seq"],
    [{ from_seq: 0, limit: 0 }, "limit"]
  ])("POST /api/audit/export %j answers 400 naming the field", async (payload, field) => {
    const { status, body } = await server.json("/api/audit/export", { method: "POST", body: JSON.stringify(payload) })
    expect(status).toBe(400)
    expect(body.error).toContain(`"${field}"`)
  })

  it("refuses the audit trail without a token, and records that refusal in it", async () => {
    const { status, body } = await server.json("/api/audit/entries", { token: null })
    expect(status).toBe(401)
    expect(body).toEqual({ error: "unauthorized: missing token" })
    const after = await server.json(`/api/audit/entries?from_seq=${base + 9}`)
    expect(after.body.entries).toEqual([
      expect.objectContaining({
        seq: base + 9,
        agent_name: "api:127.0.0.1",
        action: "authenticate",
        resource: "GET /api/audit/entries",
        allowed: false,
        prev_hash: known[7]!.hash
      })
    ])
  })
})

describe("the default range of GET /api/audit/entries", () => {
  it("is seq 0 to 100, and a wider range reaches later entries", async () => {
    const s = await startServer()
    try {
      const base = await startHead(s)
      await raiseRateLimit(s)
      for (let batch = 0; batch < 12; batch++) {
        await Promise.all(Array.from({ length: 10 }, () => refused(s, "/api/status")))
      }
      const total = base + 121
      expect((await s.json("/api/audit/verify")).body).toMatchObject({ valid: true, entry_count: total, checkpoint: { ok: true, problems: [] } })
      const first = await s.json("/api/audit/entries")
      expect(first.body.count).toBe(100)
      expect(first.body.entries.map((e: Entry) => e.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1))
      const rest = await s.json("/api/audit/entries?from_seq=100&to_seq=1000")
      expect(rest.body.entries.map((e: Entry) => e.seq)).toEqual(Array.from({ length: total - 99 }, (_, i) => i + 100))
      expect(rest.body.entries[0]).toEqual(first.body.entries[99])
      expect(rest.body.entries[1].prev_hash).toBe(first.body.entries[99].hash)
      const refusals = await s.json("/api/audit/agent/api:127.0.0.1")
      expect(refusals.body.count).toBe(120)
    } finally {
      await s.stop()
    }
  }, 60_000)
})

// ---------------------------------------------------------------------------------------------
// Tampering with the SQLite file while the server is stopped
// ---------------------------------------------------------------------------------------------

/** RFC 8785 canonical JSON for the plain values these events hold (integers, strings, booleans, null). */
const canonical = (v: unknown): string => {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`
  if (v !== null && typeof v === "object") {
    const o = v as Record<string, unknown>
    return `{${Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(",")}}`
  }
  return JSON.stringify(v)
}

interface Row {
  seq: number
  id: string
  stream: string
  version: number
  type: string
  actor: string
  at: string
  data: string
  meta: string
  prev_hash: string
  hash: string
}

/** The chain formula of docs/event-log.md, recomputed here from a row's values. */
const rowHash = (r: Row) =>
  createHash("sha256")
    .update(
      `annal/v1\n${canonical([r.seq, r.id, r.stream, r.version, r.type, r.actor, r.at, JSON.parse(r.data), JSON.parse(r.meta)])}\n${r.prev_hash}`,
      "utf8"
    )
    .digest("hex")

const withDb = <A>(dataDir: string, f: (db: Database.Database) => A): A => {
  const db = new Database(join(dataDir, "annal.db"))
  try {
    return f(db)
  } finally {
    db.close()
  }
}

interface Break {
  readonly broken_at_seq: number
  readonly entry_count: number
  readonly expected: string
  readonly found: string
}

/** The tree size the data directory's checkpoint signed (its note's second line). */
const signedSize = (dir: string) => Number(readFileSync(join(dir, "checkpoint"), "utf8").split("\n")[1])

describe("a tampered log", () => {
  let base: string
  /** The start-up events, then the eight known ones. */
  let entries: ReadonlyArray<Entry>
  /** The seq before the known events: the known event n is at seq `at + n`, `entries[at + n - 1]`. */
  let at: number

  beforeAll(async () => {
    const s = await startServer()
    try {
      at = await startHead(s)
      await writeKnownEvents(s)
      entries = (await s.json("/api/audit/entries")).body.entries
      expect(entries).toHaveLength(at + 8)
      expect(entries.slice(at).map((e) => e.action)).toEqual(KNOWN_ACTIONS)
    } finally {
      expect(await s.stop()).toBe(0)
    }
    base = s.dataDir
    // the untouched copy verifies, by the CLI and by an independent recomputation of every hash
    const cli = await runCli(["audit", "verify", "--data-dir", base])
    expect(cli.code).toBe(0)
    withDb(base, (db) => {
      for (const row of db.prepare("SELECT * FROM events ORDER BY seq").all() as Array<Row>) {
        expect(`sha256:${rowHash(row)}`).toBe(entries[row.seq - 1]!.hash)
      }
    })
  }, 60_000)

  /** A fresh copy of the sound log, tampered with by `f`. */
  const tampered = (f: (db: Database.Database) => void) => {
    const dir = tempDir("annal-tampered-")
    cpSync(base, dir, { recursive: true })
    withDb(dir, f)
    return dir
  }

  /** What the CLI, a server started on the file, and its status say; all must name the break. */
  const expectBroken = async (dir: string, expected: Break) => {
    const cli = await runCli(["audit", "verify", "--data-dir", dir])
    expect(cli.code, cli.stdout + cli.stderr).not.toBe(0)
    expect(cli.stdout).toContain(`BROKEN at seq ${expected.broken_at_seq}:`)
    expect(cli.stdout).toContain(`expected: ${bare(expected.expected)}`)
    expect(cli.stdout).toContain(`found:    ${bare(expected.found)}`)
    expect(cli.stdout).toContain(`(${expected.entry_count} rows read)`)

    const s = await startServer({ dataDir: dir })
    try {
      // the break is behind the last checkpoint: the start walks only what follows it, and says so
      const signed = signedSize(dir)
      expect(signed).toBeGreaterThan(expected.broken_at_seq)
      const before = (await s.json("/api/status")).body
      expect(before.status).toBe("running")
      expect(before.components.state_store).toMatchObject({ healthy: true, chain_valid: true, chain_verified_from: signed + 1 })

      // the full walk finds it, and the status shows what it found from then on
      const { status: code, body } = await s.json("/api/audit/verify")
      expect(code).toBe(200)
      expect(body).toMatchObject({ valid: false, ...expected })
      const status = (await s.json("/api/status")).body
      expect(status.status).toBe("running")
      expect(status.components.state_store).toMatchObject({ healthy: false, chain_valid: false, chain_verified_from: 1 })
      expect(status.components.state_store.detail).toMatch(new RegExp(`broken at seq ${expected.broken_at_seq}\\b`))
      // the rest of the API still serves
      expect((await s.json("/api/audit/entries")).status).toBe(200)
    } finally {
      await s.stop()
    }
  }

  /** The entry of the known event n (1 to 8). */
  const knownEntry = (n: number) => entries[at + n - 1]!

  it("an edited data column breaks the chain at that row", async () => {
    // hide a refusal: known event 5 was a refused request, now it claims to have been allowed
    const seq = at + 5
    expect(knownEntry(5)).toMatchObject({ seq, action: "authenticate", allowed: false })
    const dir = tampered((db) => {
      expect(db.prepare("UPDATE events SET data = json_set(data, '$.allowed', json('true')) WHERE seq = ?").run(seq).changes).toBe(1)
    })
    const row = withDb(dir, (db) => db.prepare("SELECT * FROM events WHERE seq = ?").get(seq) as Row)
    expect(JSON.parse(row.data).allowed).toBe(true)
    await expectBroken(dir, {
      broken_at_seq: seq,
      entry_count: at + 8,
      expected: `sha256:${rowHash(row)}`,
      found: knownEntry(5).hash
    })
  }, 60_000)

  it("a deleted row breaks the chain at its seq", async () => {
    const dir = tampered((db) => {
      expect(db.prepare("DELETE FROM events WHERE seq = ?").run(at + 4).changes).toBe(1)
    })
    await expectBroken(dir, {
      broken_at_seq: at + 4,
      entry_count: at + 7,
      // known event 5 now comes after known event 3, but links to the deleted known event 4
      expected: knownEntry(3).hash,
      found: knownEntry(4).hash
    })
  }, 60_000)

  it("two swapped rows break the chain at the first moved position", async () => {
    const dir = tampered((db) => {
      db.transaction(() => {
        db.prepare("UPDATE events SET seq = 1000000 WHERE seq = ?").run(at + 3)
        db.prepare("UPDATE events SET seq = ? WHERE seq = ?").run(at + 3, at + 6)
        db.prepare("UPDATE events SET seq = ? WHERE seq = 1000000").run(at + 6)
      })()
      expect(db.prepare("SELECT type FROM events WHERE seq = ?").pluck().get(at + 3)).toBe("config_changed")
    })
    await expectBroken(dir, {
      broken_at_seq: at + 3,
      entry_count: at + 8,
      // at the position of known event 3 sits the old known event 6, which links to known
      // event 5, not to known event 2
      expected: knownEntry(2).hash,
      found: knownEntry(5).hash
    })
  }, 60_000)
})

describe("POST /api/audit/export without a body", () => {
  it("reads as {from_seq: 0}", async () => {
    const s = await startServer()
    try {
      const base = await startHead(s)
      await s.fetch("/api/status", { token: "wrong" })
      const response = await s.fetch("/api/audit/export", { method: "POST" })
      expect(response.status).toBe(200)
      const body = (await response.json()) as { entry_count: number; json: string }
      // everything from the first entry: the start-up events and the refusal
      expect(body.entry_count).toBe(base + 1)
      const exported = JSON.parse(body.json) as Array<Entry>
      expect(exported.map((e) => e.seq)).toEqual(Array.from({ length: base + 1 }, (_, i) => i + 1))
      expect(exported.at(-1)).toMatchObject({ action: "authenticate", resource: "GET /api/status", allowed: false })
    } finally {
      await s.stop()
    }
  })
})
