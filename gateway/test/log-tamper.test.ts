/**
 * A log changed behind the server's back, on real data directories: an edited event, the same
 * edit with every hash and the tree recomputed, a deleted middle row, a cut tail, and the whole
 * data directory put back to an earlier copy (with a witness directory). Each is caught by
 * `annal audit verify` and `GET /api/audit/verify`, and by proof bundles (`annal log bundle`
 * refuses, or the independent verifier rejects what it wrote), naming the seq or the checkpoint;
 * a cut, a rollback or a rewrite is also refused at start. An edit behind the last checkpoint is
 * not walked at start (the start verifies from the checkpoint on): the full walk finds it.
 */
import Database from "better-sqlite3"
import { execFile } from "node:child_process"
import { cpSync, readFileSync, rmSync } from "node:fs"
import { join } from "node:path"
import { promisify } from "node:util"
import { Chain } from "@annal/store"
import { afterAll, describe, expect, it } from "vitest"
import { ROOT, runCli, type RunningServer, startServer, tempDir } from "./harness.js"

const dirs: Array<string> = []
const fresh = (prefix: string) => {
  const dir = tempDir(prefix)
  dirs.push(dir)
  return dir
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

const addSkills = async (s: RunningServer, n: number, prefix: string) => {
  for (let i = 0; i < n; i++) expect((await s.json("/api/skills", { method: "POST", body: JSON.stringify({ name: `${prefix}-${i}`, description: "d" }) })).status).toBe(200)
}

/** A data directory with a log of some events whose server stopped cleanly (signing its tree at the head). */
const signedLog = async () => {
  const s = await startServer({ dataDir: fresh("annal-tamper-") })
  await addSkills(s, 10, "skill")
  const head = (await s.json("/api/status")).body.components.state_store.head_seq as number
  const key = (await s.json("/api/log/public-key")).body.verifier_key as string
  expect(await s.stop()).toBe(0)
  return { dir: s.dataDir, head, key }
}

const withDb = <A>(dir: string, f: (db: Database.Database) => A): A => {
  const db = new Database(join(dir, "annal.db"))
  try {
    return f(db)
  } finally {
    db.close()
  }
}

/** Runs the independent verifier on a bundle. */
const outside = async (file: string, key: string) => {
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [join(ROOT, "docs", "verify_bundle.mjs"), file, "--key", key])
    return { code: 0, stdout }
  } catch (e) {
    const err = e as { code?: number; stdout?: string }
    return { code: err.code ?? -1, stdout: err.stdout ?? "" }
  }
}

/** The tree size the data directory's checkpoint signed (its note's second line). */
const signedSize = (dir: string) => Number(readFileSync(join(dir, "checkpoint"), "utf8").split("\n")[1])

/**
 * A server started on a directory whose log was changed behind its last checkpoint: the start
 * verifies only what follows the checkpoint, so it starts and its status says the chain is valid
 * from there, without having walked the change.
 */
const startedUnwalked = async (dir: string) => {
  const signed = signedSize(dir)
  const s = await startServer({ dataDir: dir })
  const status = (await s.json("/api/status")).body
  expect(status.components.state_store).toMatchObject({ healthy: true, detail: null, chain_valid: true, chain_verified_from: signed + 1 })
  return s
}

/** `annal log bundle` of from…to, written to a folder of its own. */
const bundle = async (dir: string, from: number, to: number) => {
  const file = join(fresh("annal-bundle-"), "bundle.json")
  return { ...(await runCli(["log", "bundle", "--data-dir", dir, "--from", String(from), "--to", String(to), "--out", file])), file }
}

describe("a log changed behind the server's back", () => {
  it("an event edited behind the checkpoint: not walked at start; audit verify, GET /api/audit/verify and the bundle's verifier name its seq", async () => {
    const { dir, key } = await signedLog()
    const seq = 4
    withDb(dir, (db) => expect(db.prepare("UPDATE events SET data = json_set(data, '$.forged', 1) WHERE seq = ?").run(seq).changes).toBe(1))

    // the start checks only from the checkpoint on; the full walk finds the edit, and the status shows it then
    const s = await startedUnwalked(dir)
    try {
      expect((await s.json("/api/audit/verify")).body).toMatchObject({ valid: false, broken_at_seq: seq, checkpoint: { ok: true } })
      const status = (await s.json("/api/status")).body
      expect(status.components.state_store).toMatchObject({ healthy: false, chain_valid: false, chain_verified_from: 1 })
      expect(status.components.state_store.detail).toMatch(new RegExp(`broken at seq ${seq}\\b`))
    } finally {
      await s.stop()
    }
    const cli = await runCli(["audit", "verify", "--data-dir", dir])
    expect(cli.code).toBe(1)
    expect(cli.stdout).toContain(`BROKEN at seq ${seq}: hash does not match the row's contents`)

    // a bundle holding the event: its hash no longer matches what it says
    const made = await bundle(dir, seq - 1, seq + 1)
    expect(made.code, made.stderr).toBe(0)
    const checked = await outside(made.file, key)
    expect(checked.code).toBe(1)
    expect(checked.stdout).toBe(`INVALID\nevent seq ${seq}: hash does not match its contents (computed ${checked.stdout.match(/computed ([0-9a-f]{64})/)![1]}, stated ${withDb(dir, (db) => db.prepare("SELECT hash FROM events WHERE seq = ?").pluck().get(seq))})\n`)
  }, 120_000)

  it("an event rewritten with every hash and the tree recomputed: refused at start, by audit verify and by log bundle, naming the checkpoint", async () => {
    const { dir, head } = await signedLog()
    withDb(dir, (db) => {
      // the forger recomputes the chain from the edited row on, and drops the tree so the store rebuilds it
      const rows = db.prepare("SELECT * FROM events WHERE seq >= 4 ORDER BY seq").all() as Array<Record<string, any>>
      let prev = db.prepare("SELECT hash FROM events WHERE seq = 3").pluck().get() as string
      const update = db.prepare("UPDATE events SET data = ?, prev_hash = ?, hash = ? WHERE seq = ?")
      for (const row of rows) {
        const data = JSON.parse(row.data)
        if (row.seq === 4) data.forged = 1
        const hash = Chain.hashOfValues(row as any, data, JSON.parse(row.meta), prev)
        update.run(Chain.canonicalJson(data), prev, hash, row.seq)
        prev = hash
      }
      db.exec("DELETE FROM merkle_nodes; DELETE FROM merkle_state")
    })
    // the chain itself verifies
    const cli = await runCli(["audit", "verify", "--data-dir", dir])
    expect(cli.stdout).toContain(`valid: ${head} events`)
    const named = new RegExp(`checkpoint ${join(dir, "checkpoint")} \\(data directory: annal/[0-9a-f]{16}, tree size ${head}, root [0-9a-f]{64}\\): the log's event ${head} is not the one the checkpoint signed`)
    expect(cli.code).toBe(1)
    expect(cli.stdout).toMatch(new RegExp(`CHECKPOINT PROBLEM: ${named.source}`))
    await expect(startServer({ dataDir: dir })).rejects.toThrow(named)
    const made = await bundle(dir, 1, 5)
    expect(made.code).toBe(1)
    expect(made.stderr).toMatch(named)
  }, 120_000)

  it("a middle row deleted: not walked at start; audit verify, GET /api/audit/verify and log bundle name its seq", async () => {
    const { dir } = await signedLog()
    const seq = 5
    withDb(dir, (db) => expect(db.prepare("DELETE FROM events WHERE seq = ?").run(seq).changes).toBe(1))
    const s = await startedUnwalked(dir)
    try {
      expect((await s.json("/api/audit/verify")).body).toMatchObject({ valid: false, broken_at_seq: seq, reason: `row ${seq} is missing or out of place` })
      expect((await s.json("/api/status")).body.components.state_store.detail).toMatch(new RegExp(`broken at seq ${seq}\\b`))
    } finally {
      await s.stop()
    }
    const cli = await runCli(["audit", "verify", "--data-dir", dir])
    expect(cli.code).toBe(1)
    expect(cli.stdout).toContain(`BROKEN at seq ${seq}: row ${seq} is missing or out of place`)
    const made = await bundle(dir, seq - 2, seq + 2)
    expect(made.code).toBe(1)
    expect(made.stderr).toContain(`event ${seq} is missing from the log`)
  }, 120_000)

  it("the tail cut: refused at start, and audit verify and log bundle name the checkpoint and the head", async () => {
    const { dir, head } = await signedLog()
    withDb(dir, (db) => db.prepare("DELETE FROM events WHERE seq > ?").run(head - 3))
    const named = new RegExp(`checkpoint ${join(dir, "checkpoint")} \\(data directory: annal/[0-9a-f]{16}, tree size ${head}, root [0-9a-f]{64}\\) signed ${head} events but the log's head is seq ${head - 3} \\(hash [0-9a-f]{64}\\): the log was cut or rolled back`)
    await expect(startServer({ dataDir: dir })).rejects.toThrow(named)
    const cli = await runCli(["audit", "verify", "--data-dir", dir])
    // the chain that is left links; only the checkpoint shows what is missing
    expect(cli.stdout).toContain(`valid: ${head - 3} events`)
    expect(cli.stdout).toMatch(new RegExp(`CHECKPOINT PROBLEM: ${named.source}`))
    expect(cli.code).toBe(1)
    const made = await bundle(dir, 1, 2)
    expect(made.code).toBe(1)
    expect(made.stderr).toMatch(named)
  }, 120_000)

  it("the tail cut under a running server: GET /api/audit/verify names the checkpoint", async () => {
    const { dir, head } = await signedLog()
    const s = await startServer({ dataDir: dir })
    try {
      withDb(dir, (db) => db.prepare("DELETE FROM events WHERE seq > ?").run(head - 2))
      const { body } = await s.json("/api/audit/verify")
      expect(body.valid).toBe(false)
      expect(body.checkpoint.ok).toBe(false)
      expect(body.checkpoint.problems.join("\n")).toMatch(new RegExp(`checkpoint ${join(dir, "checkpoint")} \\(data directory: annal/[0-9a-f]{16}, tree size ${head}, root [0-9a-f]{64}\\)`))
      expect(body.reason).toBe(body.checkpoint.problems.join("; "))
    } finally {
      await s.stop()
    }
  }, 120_000)

  it("the data directory put back to an earlier copy: only the witness catches it, at start, by audit verify and by log bundle", async () => {
    const witness = fresh("annal-witness-")
    const first = await startServer({ dataDir: fresh("annal-rollback-") })
    const dir = first.dataDir
    expect((await first.json("/api/config", { method: "PUT", body: JSON.stringify({ log: { checkpoint_dir: witness } }) })).status).toBe(200)
    await addSkills(first, 3, "early")
    expect(await first.stop()).toBe(0)
    const copy = join(fresh("annal-copy-"), "data")
    cpSync(dir, copy, { recursive: true })
    const earlier = withDb(dir, (db) => db.prepare("SELECT MAX(seq) FROM events").pluck().get() as number)

    // a second run writes to the witness too, then the directory is put back
    const second = await startServer({ dataDir: dir })
    await addSkills(second, 4, "late")
    const head = (await second.json("/api/status")).body.components.state_store.head_seq as number
    expect(await second.stop()).toBe(0)
    rmSync(dir, { recursive: true, force: true })
    cpSync(copy, dir, { recursive: true })

    const named = new RegExp(`checkpoint ${join(witness, "checkpoint")} \\(witness: annal/[0-9a-f]{16}, tree size ${head}, root [0-9a-f]{64}\\) signed ${head} events but the log's head is seq ${earlier} `)
    await expect(startServer({ dataDir: dir })).rejects.toThrow(named)
    // audit verify finds the witness through the stored configuration
    const cli = await runCli(["audit", "verify", "--data-dir", dir])
    expect(cli.code).toBe(1)
    expect(cli.stdout).toContain(`valid: ${earlier} events`)
    expect(cli.stdout).toMatch(new RegExp(`CHECKPOINT PROBLEM: ${named.source}`))
    expect(cli.stdout).not.toContain(`${join(dir, "checkpoint")} (data directory`)
    const made = await bundle(dir, 1, 2)
    expect(made.code).toBe(1)
    expect(made.stderr).toMatch(named)
  }, 120_000)
})
