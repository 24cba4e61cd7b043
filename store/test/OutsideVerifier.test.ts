/**
 * The log is verifiable by outsiders: docs/verify_log.py, a Python verifier that shares no code
 * with Annal, recomputes the chain of a real SQLite log (and of its JSONL export) and agrees with
 * the store's own verify, both on a sound log and on a tampered one.
 */
import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Chunk, Effect, Layer, Stream } from "effect"
import { execFileSync } from "node:child_process"
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { Chain, type EventDraft, EventStore, EventStoreSqlite, IdGenerator, Projector, type StoredEvent } from "../src/index.js"

const DOCS = resolve(dirname(fileURLToPath(import.meta.url)), "../../docs")
const VERIFIER = join(DOCS, "verify_log.py")

const tempDir = () => mkdtempSync(join(tmpdir(), "annal-outside-"))

const storeLayer = (filename: string) =>
  EventStoreSqlite.layer({ filename, synchronous: "NORMAL" }).pipe(Layer.provide(Layer.merge(Projector.none, IdGenerator.layer)))

const withStore = <A, E>(filename: string, f: (store: EventStore["Type"]) => Effect.Effect<A, E>) =>
  Effect.flatMap(EventStore, f).pipe(Effect.provide(storeLayer(filename)), Effect.scoped)

interface RunResult {
  readonly status: number
  readonly stdout: string
}

/** Runs the Python verifier; a non-zero exit is a result, not an exception. */
const runVerifier = (file: string): RunResult => {
  try {
    const stdout = execFileSync("python3", [VERIFIER, file], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })
    return { status: 0, stdout }
  } catch (e) {
    const err = e as { status?: number | null; stdout?: string; stderr?: string }
    return { status: err.status ?? -1, stdout: `${err.stdout ?? ""}${err.stderr ?? ""}` }
  }
}

/** A copy of a closed database file, made by SQLite itself. */
const copyDb = (from: string, to: string) => {
  const db = new Database(from)
  db.prepare("VACUUM INTO ?").run(to)
  db.close()
}

const withDb = (filename: string, f: (db: Database.Database) => void) => {
  const db = new Database(filename)
  try {
    f(db)
  } finally {
    db.close()
  }
}

const ev = (type: string, data: EventDraft["data"]): EventDraft => ({ type, data })

/** Events chosen to exercise every rule of the canonical form. */
const commands: ReadonlyArray<{
  stream: string
  actor: string
  events: ReadonlyArray<EventDraft>
  meta?: Record<string, unknown>
}> = [
  {
    stream: "agent-0196b3c2-5e49-7aa0-9c51-3d2e1f0a7b68",
    actor: "user:alice",
    meta: { correlation_id: "corr-1", session_id: "sess-1", idempotency_key: "idem-1" },
    events: [
      ev("agent_created", { name: "builder", tools: ["read_file", "write_file"], budget: { window_s: 3600, tokens: 200000 } }),
      ev("agent_state_changed", { from: "idle", to: "running" })
    ]
  },
  {
    stream: "memory-1",
    actor: "agent:0196b3c2-5e49-7aa0-9c51-3d2e1f0a7b68",
    meta: { correlation_id: "corr-1", causation_id: "0196b3c2-5e4a-7c01-8f3d-2a9b6c1d4e5f", extra: { z: 1, a: [2] } },
    events: [
      ev("memory_stored", {
        text: "héllo wörld — 日本語 — Ελληνικά — עברית",
        emoji: "😀👩‍👩‍👧🏳️‍🌈",
        non_bmp: "𝄞 𝕏 𠜎 🀄",
        separators: "line\u2028para\u2029end",
        bom_and_nbsp: "\ufeff\u00a0",
        lone_surrogates: "a\ud800b\udfffc",
        del_is_literal: "\u007f"
      })
    ]
  },
  {
    stream: "seed-7",
    actor: "program:git-tools",
    events: [
      ev("seed_created", {
        escapes: "quote\" backslash\\ slash/ \b\f\n\r\t",
        controls: "\u0000\u0001\u001f",
        windows_path: "C:\\Users\\bob\\file.txt",
        html: "<script>alert('x')</script> & \u003c"
      })
    ]
  },
  {
    stream: "config",
    actor: "system",
    meta: { session_id: "sess-2" },
    events: [
      ev("config_changed", {
        b: 1,
        a: {
          z: [],
          "é": 1,
          e: 2,
          E: 3,
          "😀": 4,
          "\ufb01": 5,
          "\uff21": 6,
          "10": 7,
          "2": 8,
          "": 9,
          "a b": 10,
          "\u0000key": 11
        },
        ünïcödé_kéy: { "日本": "x", "中文": "y", "한국어": "z" },
        nested: { deeper: { deepest: { c: 3, b: [{ y: 2, x: 1 }, {}, []], a: {} } } }
      })
    ]
  },
  {
    stream: "budget-1",
    actor: "system",
    meta: { correlation_id: "corr-2", causation_id: "corr-1" },
    events: [
      ev("numbers_recorded", {
        zero: 0,
        negative_zero: -0,
        one: 1,
        minus_one: -1,
        int: 42,
        negative: -273.15,
        tenth: 0.1,
        sum: 0.1 + 0.2,
        third: 1 / 3,
        big: 1e21,
        just_below_big: 1e20,
        almost_1e21: 999999999999999900000,
        small: 1e-7,
        not_so_small: 0.000001,
        tiny: 5e-324,
        min_normal: 2.2250738585072014e-308,
        max: 1.7976931348623157e308,
        max_safe: 2 ** 53 - 1,
        min_safe: -(2 ** 53 - 1),
        beyond_safe: 2 ** 53 + 2,
        money: 4.35,
        exp_digits: 1.2345e-20,
        avogadro: 6.02214076e23,
        ints: [1, 10, 100, 1000, 123456789012],
        mixed: [-1.5, 2.5e-7, -1e-7, 1.5e300]
      })
    ]
  },
  {
    stream: "approval-1",
    actor: "user:bob",
    events: [
      ev("approval_decided", { approved: true, denied: false, reason: null, args: {}, list: [], both: [{}, [], null, true, false] }),
      ev("approval_closed", {})
    ]
  }
]

/** The seq of the event that carries the unicode payload (the one the test tampers with). */
const UNICODE_SEQ = 3

const seed = (filename: string) =>
  withStore(filename, (store) =>
    Effect.gen(function*() {
      for (const c of commands) {
        yield* store.append({ stream: c.stream, expectedVersion: "any", actor: c.actor, events: c.events, meta: c.meta })
      }
      const verified = yield* store.verify
      expect(verified).toMatchObject({ valid: true })
      const events = yield* store.readAll(0).pipe(Stream.runCollect)
      return Chunk.toReadonlyArray(events)
    })
  )

/** What the store's own verify says about a file. */
const verifyWithStore = (filename: string) => withStore(filename, (store) => store.verify)

const exportJsonl = (events: ReadonlyArray<StoredEvent>, file: string) =>
  writeFileSync(file, events.map((e) => JSON.stringify(e)).join("\n") + "\n")

describe("an outside verifier (docs/verify_log.py)", () => {
  it.effect("recomputes the chain of a real log and reports a tampered row at the right seq", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const filename = join(dir, "annal.db")
      const events = yield* seed(filename)
      const n = commands.reduce((sum, c) => sum + c.events.length, 0)
      expect(events.length).toBe(n)
      expect(events[UNICODE_SEQ - 1]!.type).toBe("memory_stored")

      // the store is closed; the Python verifier agrees the log is sound
      const sound = runVerifier(filename)
      expect(sound).toEqual({ status: 0, stdout: `valid ${n}\n` })

      // and so it does on the JSONL export
      const jsonl = join(dir, "export.jsonl")
      exportJsonl(events, jsonl)
      expect(runVerifier(jsonl)).toEqual({ status: 0, stdout: `valid ${n}\n` })

      // an edited data column, kept in canonical form, is caught at its own seq
      const edited = join(dir, "edited.db")
      copyDb(filename, edited)
      withDb(edited, (db) => {
        const row = db.prepare("SELECT data FROM events WHERE seq = ?").get(UNICODE_SEQ) as { data: string }
        const data = JSON.parse(row.data) as Record<string, unknown>
        db.prepare("UPDATE events SET data = ? WHERE seq = ?").run(Chain.canonicalJson({ ...data, emoji: "😁" }), UNICODE_SEQ)
      })
      const broken = runVerifier(edited)
      expect(broken.status).toBe(1)
      expect(broken.stdout).toMatch(new RegExp(`^broken at seq ${UNICODE_SEQ}: expected [0-9a-f]{64} found [0-9a-f]{64}\\n$`))
      // it names the same expected and found hashes as the store's own verify
      const storeSays = yield* verifyWithStore(edited)
      expect(storeSays).toMatchObject({ valid: false, broken_at_seq: UNICODE_SEQ })
      if (storeSays.valid) throw new Error("unreachable")
      expect(broken.stdout).toBe(`broken at seq ${UNICODE_SEQ}: expected ${storeSays.expected} found ${storeSays.found}\n`)
      expect(storeSays.found).toBe(events[UNICODE_SEQ - 1]!.hash)

      // an edited number in the JSONL export is caught too
      const lines = readFileSync(jsonl, "utf8").trimEnd().split("\n")
      const at = events.findIndex((e) => e.type === "numbers_recorded")
      const numbers = JSON.parse(lines[at]!) as StoredEvent
      lines[at] = JSON.stringify({ ...numbers, data: { ...numbers.data, tenth: 0.2 } })
      writeFileSync(jsonl, lines.join("\n") + "\n")
      const brokenExport = runVerifier(jsonl)
      expect(brokenExport.status).toBe(1)
      expect(brokenExport.stdout).toMatch(new RegExp(`^broken at seq ${numbers.seq}: expected [0-9a-f]{64} found ${numbers.hash}\\n$`))
    }))

  it.effect("reports a deleted row where the store does", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const filename = join(dir, "annal.db")
      const events = yield* seed(filename)
      withDb(filename, (db) => db.prepare("DELETE FROM events WHERE seq = 5").run())
      const result = runVerifier(filename)
      expect(result.status).toBe(1)
      // row 5 is gone: the row now in position 5 links to the deleted row's hash, not to row 4's
      expect(result.stdout).toBe(`broken at seq 5: expected ${events[3]!.hash} found ${events[4]!.hash}\n`)
      expect(yield* verifyWithStore(filename)).toMatchObject({
        valid: false,
        broken_at_seq: 5,
        expected: events[3]!.hash,
        found: events[4]!.hash
      })
    }))

  it("the worked example of docs/event-log.md hashes as documented", () => {
    const fields = {
      seq: 1,
      id: "0196b3c2-5e4a-7c01-8f3d-2a9b6c1d4e5f",
      stream: "agent-0196b3c2-5e49-7aa0-9c51-3d2e1f0a7b68",
      version: 1,
      type: "agent_created",
      actor: "user:alice",
      at: "2026-05-17T10:30:00.123Z"
    }
    const data = { name: "builder", tools: ["read_file", "write_file"], budget: { tokens: 200000, window_s: 3600 }, temperature: 0.2, note: "café ☕" }
    const meta = { session_id: "sess-01", correlation_id: "0196b3c2-5e40-7000-8000-00000000c0de" }
    const hash = "c26cc143f9669f73fa5b2ac45d2f91c10731d789a22e921c6e9cafb7d7799ec5"
    expect(Chain.hashOfValues(fields, data, meta, Chain.GENESIS_HASH)).toBe(hash)
    expect(Chain.hashOfCanonical(fields, Chain.canonicalJson(data), Chain.canonicalJson(meta), Chain.GENESIS_HASH)).toBe(hash)
    const doc = readFileSync(join(DOCS, "event-log.md"), "utf8")
    expect(doc).toContain(hash)
  })
})
