/**
 * The `annal` command line on real data directories: `audit verify`, `audit export` (checked by
 * the outside verifier docs/verify_log.py), `rebuild` (detects and repairs views that drifted
 * from the log), and its behaviour on a directory without a log.
 */
import Database from "better-sqlite3"
import { execFile, spawn } from "node:child_process"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { promisify } from "node:util"
import { beforeAll, describe, expect, it } from "vitest"
import { BIN, ROOT, runCli, type RunningServer, startServer, tempDir } from "./harness.js"

const COLUMNS = ["seq", "id", "stream", "version", "type", "actor", "at", "data", "meta", "prev_hash", "hash"]
const HEX = /^[0-9a-f]{64}$/

/** Runs docs/verify_log.py; a non-zero exit is a result. */
const outsideVerifier = async (file: string) => {
  try {
    const { stdout } = await promisify(execFile)("python3", [join(ROOT, "docs", "verify_log.py"), file])
    return { code: 0, stdout }
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string }
    return { code: err.code ?? -1, stdout: `${err.stdout ?? ""}${err.stderr ?? ""}` }
  }
}

const stripAnsi = (text: string) => text.replace(/\x1b\[[0-9;]*m/g, "")

const put = (s: RunningServer, patch: unknown) => s.json("/api/config", { method: "PUT", body: JSON.stringify(patch) })
const refused = async (s: RunningServer, path: string) => expect((await s.fetch(path, { token: "wrong-token" })).status).toBe(401)
/** The head seq of the log, from the status. */
const headSeq = async (s: RunningServer): Promise<number> => {
  const { status, body } = await s.json("/api/status")
  expect(status).toBe(200)
  const head = body.components.state_store.head_seq
  expect(Number.isInteger(head)).toBe(true)
  return head
}

describe("the annal CLI on a realistic log", () => {
  /** Events the server appended by itself at its first start (the default persona, for one). */
  let STARTUP: number
  /** Events in the log after the run: the start-up events, then the run's nine. */
  let EVENTS: number
  /** Access decisions among them. */
  const REFUSALS = 4
  let dataDir: string
  let headHash: string
  let decisions: unknown
  let config: any

  beforeAll(async () => {
    // a first run: config changes and refused requests
    const first = await startServer()
    dataDir = first.dataDir
    try {
      STARTUP = await headSeq(first)
      EVENTS = STARTUP + 9
      expect((await put(first, { security: { rate_limit_per_minute: 10_000 } })).status).toBe(200)
      expect((await put(first, { resources: { history_size: 2000 } })).status).toBe(200)
      await refused(first, "/api/status")
      await refused(first, "/api/audit/verify")
      expect((await put(first, { resources: { history_size: 2001, sample_interval_secs: 7 } })).status).toBe(200)
    } finally {
      expect(await first.stop()).toBe(0)
    }
    // a restart on the same directory, then more of both
    const second = await startServer({ dataDir })
    try {
      // a restart appends nothing of its own: the first run's five events follow the start-up ones
      expect(await headSeq(second)).toBe(STARTUP + 5)
      expect((await second.json("/api/config")).body.resources.history_size).toBe(2001)
      await refused(second, "/api/config")
      expect((await put(second, { resources: { history_size: 2002 } })).status).toBe(200)
      await refused(second, "/api/audit")
      expect((await put(second, { events: { ping_interval_secs: 15 } })).status).toBe(200)
      const verify = await second.json("/api/audit/verify")
      expect(verify.body).toMatchObject({ valid: true, entry_count: EVENTS, checkpoint: { ok: true, problems: [], head: { seq: EVENTS } } })
      const last = await second.json(`/api/audit/entries?from_seq=${EVENTS}`)
      headHash = last.body.entries[0].hash.replace(/^sha256:/, "")
      decisions = (await second.json("/api/audit")).body
      config = (await second.json("/api/config")).body
    } finally {
      expect(await second.stop()).toBe(0)
    }
    expect(decisions).toMatchObject({ total: REFUSALS })
    expect(config.resources).toMatchObject({ history_size: 2002, sample_interval_secs: 7 })
  }, 60_000)

  it("`annal audit verify` accepts a sound log, exit 0, with its count and head", async () => {
    const { code, stdout } = await runCli(["audit", "verify", "--data-dir", dataDir])
    expect(code).toBe(0)
    const [chain, ...checkpoints] = stdout.trim().split("\n")
    expect(chain).toBe(`valid: ${EVENTS} events, head seq ${EVENTS} hash ${headHash}`)
    // the server signed its tree at shutdown: the log is consistent with that checkpoint
    expect(checkpoints).toEqual([expect.stringMatching(new RegExp(`^checkpoint: consistent with ${join(dataDir, "checkpoint")} \\(data directory, tree size ${EVENTS}, root [0-9a-f]{64}\\)$`))])
  })

  it("`annal audit verify | head` (a reader that closed the pipe) still exits with the verdict, with no EPIPE", async () => {
    const child = spawn(process.execPath, [BIN, "audit", "verify", "--data-dir", dataDir], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] })
    // the reader is gone before anything is written: every write to stdout meets a closed pipe
    child.stdout.destroy()
    let stderr = ""
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d))
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve))
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" })
  })

  it("`annal audit export` writes one JSON object per event with every column, which an outside verifier accepts", async () => {
    const file = join(tempDir("annal-export-"), "log.jsonl")
    const { code, stdout } = await runCli(["audit", "export", "--data-dir", dataDir, "--out", file])
    expect(code).toBe(0)
    expect(stdout.trim()).toBe(`exported ${EVENTS} events to ${file}`)

    const text = readFileSync(file, "utf8")
    expect(text.endsWith("\n")).toBe(true)
    const lines = text.slice(0, -1).split("\n")
    expect(lines).toHaveLength(EVENTS)
    const events = lines.map((line) => JSON.parse(line))
    events.forEach((e, i) => {
      expect(Object.keys(e).sort()).toEqual([...COLUMNS].sort())
      expect(e.seq).toBe(i + 1)
      expect(typeof e.version).toBe("number")
      for (const c of ["id", "stream", "type", "actor", "at"]) expect(typeof e[c]).toBe("string")
      for (const c of ["data", "meta"]) {
        expect(typeof e[c]).toBe("object")
        expect(e[c]).not.toBeNull()
        expect(Array.isArray(e[c])).toBe(false)
      }
      expect(e.hash).toMatch(HEX)
      expect(e.prev_hash).toBe(i === 0 ? "0".repeat(64) : events[i - 1].hash)
    })
    expect(events[EVENTS - 1].hash).toBe(headHash)
    // the run's nine events, after the start-up ones
    expect(events.slice(STARTUP).map((e) => e.type)).toEqual([
      "config_changed",
      "config_changed",
      "access_decided",
      "access_decided",
      "config_changed",
      "access_decided",
      "config_changed",
      "access_decided",
      "config_changed"
    ])
    expect(events.map((e) => e.type).filter((t) => t === "access_decided")).toHaveLength(REFUSALS)
    const refusal = events.find((e) => e.type === "access_decided")
    expect(refusal).toMatchObject({
      stream: "access-api:127.0.0.1",
      actor: "system",
      data: { subject: "api:127.0.0.1", action: "authenticate", resource: "GET /api/status", allowed: false, reason: "invalid token" }
    })
    const configs = events.filter((e) => e.type === "config_changed")
    expect(configs.map((e) => e.version)).toEqual([1, 2, 3, 4, 5])
    expect(configs.map((e) => e.data.config.resources.history_size)).toEqual([720, 2000, 2001, 2002, 2002])

    const outside = await outsideVerifier(file)
    expect(outside).toEqual({ code: 0, stdout: `valid ${EVENTS}\n` })
    // and the database itself, read by the same outside verifier
    expect(await outsideVerifier(join(dataDir, "annal.db"))).toEqual({ code: 0, stdout: `valid ${EVENTS}\n` })
  })

  it("`annal rebuild` finds the views equal to a replay of the log, exit 0", async () => {
    const { code, stdout } = await runCli(["rebuild", "--data-dir", dataDir])
    expect(code, stdout).toBe(0)
    expect(stdout).toContain(`equal  access_decisions: live ${REFUSALS} rows, replayed ${REFUSALS} rows`)
    expect(stdout).toContain("equal  config_current: live 1 rows, replayed 1 rows")
    expect(stdout).toContain(`views equal to the live ones: replayed ${EVENTS} events`)
    expect(stdout).not.toContain("DIFFER")
  })

  it("`annal rebuild` refuses while a server holds the data directory, and changes nothing", async () => {
    const s = await startServer({ dataDir })
    try {
      const before = (await s.json("/api/audit")).body
      const { code, stdout, stderr } = await runCli(["rebuild", "--data-dir", dataDir])
      expect(code, stdout + stderr).toBe(1)
      expect(stderr).toContain("is in use by a running annal server")
      expect(stderr).toContain("stop it before rebuilding the views")
      expect(stdout).not.toContain("replayed")
      expect((await s.json("/api/audit")).body).toEqual(before)
    } finally {
      await s.stop()
    }
  }, 60_000)

  it("`annal rebuild` notices views changed behind its back, exit 1, and repairs them from the log", async () => {
    const db = new Database(join(dataDir, "annal.db"))
    try {
      expect(db.prepare("DELETE FROM access_decisions").run().changes).toBe(REFUSALS)
      // same row count, different content
      db.prepare("UPDATE config_current SET config = json_set(config, '$.resources.history_size', 7)").run()
    } finally {
      db.close()
    }

    const drifted = await runCli(["rebuild", "--data-dir", dataDir])
    expect(drifted.code, drifted.stdout + drifted.stderr).toBe(1)
    expect(drifted.stdout).toContain(`DIFFER access_decisions: live 0 rows, replayed ${REFUSALS} rows`)
    expect(drifted.stdout).toContain("DIFFER config_current: live 1 rows, replayed 1 rows")
    expect(drifted.stdout).toContain("views DIFFERED")

    const again = await runCli(["rebuild", "--data-dir", dataDir])
    expect(again.code, again.stdout).toBe(0)
    expect(again.stdout).toContain(`views equal to the live ones: replayed ${EVENTS} events`)

    // the server sees the repaired views; the log itself was not touched
    const s = await startServer({ dataDir })
    try {
      expect((await s.json("/api/audit")).body).toEqual(decisions)
      expect((await s.json("/api/config")).body).toEqual(config)
      expect((await s.json("/api/audit/verify")).body).toMatchObject({ valid: true, entry_count: EVENTS, checkpoint: { ok: true, problems: [], head: { seq: EVENTS } } })
    } finally {
      await s.stop()
    }
    const verified = await runCli(["audit", "verify", "--data-dir", dataDir])
    expect(verified.stdout).toContain(`head seq ${EVENTS} hash ${headHash}`)
  }, 60_000)
})

describe("the annal CLI without a log", () => {
  it.each([
    [["audit", "verify"]],
    [["audit", "export", "--out", "__OUT__"]],
    [["rebuild"]]
  ])("`annal %j --data-dir <empty dir>` fails plainly and creates nothing", async (command) => {
    const dir = tempDir("annal-empty-")
    const out = join(tempDir("annal-empty-out-"), "log.jsonl")
    const { code, stdout, stderr } = await runCli([...command.map((a) => (a === "__OUT__" ? out : a)), "--data-dir", dir])
    expect(code).not.toBe(0)
    expect(stdout + stderr).toContain(`no event log at ${join(dir, "annal.db")}`)
    // a message, not a stack trace
    expect(stdout + stderr).not.toMatch(/^\s+at /m)
    expect(readdirSync(dir)).toEqual([])
    expect(existsSync(out)).toBe(false)
  })

  it("`annal --help` lists serve, audit verify, audit export and rebuild", async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [BIN, "--help"], { cwd: ROOT })
    const help = stripAnsi(stdout)
    expect(help).toMatch(/^\s*- serve .*--data-dir/m)
    expect(help).toMatch(/^\s*- audit verify .*--data-dir/m)
    expect(help).toMatch(/^\s*- audit export .*--out/m)
    expect(help).toMatch(/^\s*- rebuild .*--data-dir/m)
  })
})
