/**
 * Durability: `kill -9` in the middle of a burst of concurrent writes loses no acknowledged
 * write, leaves a chain that verifies, and views that a replay of the log reproduces.
 */
import { execFile } from "node:child_process"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { promisify } from "node:util"
import { expect, it } from "vitest"
import { ROOT, runCli, type RunningServer, startServer, startServerProcess, tempDir } from "./harness.js"

const WRITES = 200
const CONCURRENCY = 12
const CRASH_AFTER = 100

interface ExportedEvent {
  readonly seq: number
  readonly type: string
  readonly actor: string
  readonly data: { readonly config?: { readonly resources?: { readonly history_size?: number } } }
  readonly prev_hash: string
  readonly hash: string
}

interface Burst {
  /** i of every PUT answered 2xx. */
  readonly acked: ReadonlyArray<number>
  /** i of every PUT that got no answer (the connection died). */
  readonly lost: ReadonlyArray<number>
  /** Any other answer: [i, status]. */
  readonly other: ReadonlyArray<readonly [number, number]>
  /** PUTs never sent, because the server was gone. */
  readonly unsent: number
}

/** Fires WRITES PUTs setting history_size = 1000 + i through a pool; kills the server after CRASH_AFTER answers. */
const burstWithCrash = async (server: RunningServer): Promise<Burst> => {
  const acked: Array<number> = []
  const lost: Array<number> = []
  const other: Array<readonly [number, number]> = []
  let next = 0
  let answered = 0
  let crash: Promise<void> | undefined
  const worker = async () => {
    while (next < WRITES && crash === undefined) {
      const i = next++
      try {
        const response = await server.fetch("/api/config", {
          method: "PUT",
          body: JSON.stringify({ resources: { history_size: 1000 + i } })
        })
        // the status line is the acknowledgement; the body may be cut off by the crash
        if (response.ok) acked.push(i)
        else other.push([i, response.status])
        await response.text().catch(() => undefined)
        answered++
      } catch {
        lost.push(i)
      }
      if (answered >= CRASH_AFTER && crash === undefined) crash = server.crash()
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  await crash
  return { acked, lost, other, unsent: WRITES - next }
}

const readExport = (file: string): Array<ExportedEvent> => {
  const text = readFileSync(file, "utf8")
  expect(text.endsWith("\n")).toBe(true)
  return text.slice(0, -1).split("\n").map((line) => JSON.parse(line) as ExportedEvent)
}

it("a crash mid-burst keeps every acknowledged write, a sound chain and rebuildable views", async () => {
  // kill -9 needs a process of its own; the restart can run here
  const first = await startServerProcess()
  const dataDir = first.dataDir
  // the server appends events of its own at its first start (the default persona, for one)
  const status0 = await first.json("/api/status")
  expect(status0.status).toBe(200)
  const startHead: number = status0.body.components.state_store.head_seq
  expect(Number.isInteger(startHead)).toBe(true)
  const startup = await first.json(`/api/audit/entries?from_seq=1&to_seq=${startHead}`)
  expect(startup.body.entries.map((e: { seq: number }) => e.seq)).toEqual(Array.from({ length: startHead }, (_, i) => i + 1))
  const raised = await first.json("/api/config", { method: "PUT", body: JSON.stringify({ security: { rate_limit_per_minute: 100_000 } }) })
  expect(raised.status).toBe(200)

  const burst = await burstWithCrash(first)
  expect(first.process.signalCode).toBe("SIGKILL")
  expect(burst.other).toEqual([])
  expect(burst.acked.length).toBeGreaterThanOrEqual(CRASH_AFTER)
  // the crash came in the middle: a good part of the burst was never answered
  expect(burst.acked.length).toBeLessThan(WRITES)
  expect(burst.unsent + burst.lost.length).toBeGreaterThan(0)

  // restart on the same data directory
  const second = await startServer({ dataDir })
  let lastBefore: number
  try {
    const verify = await second.json("/api/audit/verify")
    expect(verify.status).toBe(200)
    expect(verify.body.valid).toBe(true)
    // the start-up events, one for the rate limit, one per committed PUT (every acknowledged one at least)
    expect(verify.body.entry_count).toBeGreaterThanOrEqual(startHead + 1 + burst.acked.length)

    // the configuration the server came back with is the newest one in the log
    const entries = await second.json(`/api/audit/entries?from_seq=${verify.body.entry_count}&to_seq=${verify.body.entry_count}`)
    expect(entries.body.entries[0]).toMatchObject({ action: "config_changed", agent_name: "user:api" })
    lastBefore = (await second.json("/api/config")).body.resources.history_size

    // and it keeps working: the next change appends after the recovered head
    const after = await second.json("/api/config", { method: "PUT", body: JSON.stringify({ resources: { history_size: 5000 } }) })
    expect(after.status).toBe(200)
    expect(after.body.resources.history_size).toBe(5000)
    const status = await second.json("/api/status")
    expect(status.body.components.state_store.head_seq).toBe(verify.body.entry_count + 1)
  } finally {
    expect(await second.stop()).toBe(0)
  }

  const file = join(tempDir("annal-crash-export-"), "log.jsonl")
  const exported = await runCli(["audit", "export", "--data-dir", dataDir, "--out", file])
  expect(exported.code, exported.stdout + exported.stderr).toBe(0)
  const events = readExport(file)
  expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1))
  for (let i = 1; i < events.length; i++) expect(events[i]!.prev_hash).toBe(events[i - 1]!.hash)

  // the start-up events are the ones the server had before the burst
  expect(events.slice(0, startHead).map((e) => ({ seq: e.seq, hash: `sha256:${e.hash}` }))).toEqual(
    startup.body.entries.map((e: { seq: number; hash: string }) => ({ seq: e.seq, hash: e.hash }))
  )
  // after them, only configuration changes
  const ours = events.slice(startHead)
  expect(ours.map((e) => e.type)).toEqual(ours.map(() => "config_changed"))
  const sizes = ours.map((e) => e.data.config?.resources?.history_size)
  // the first one raised the rate limit (history at its default), the last one is the write after the restart
  expect(sizes[sizes.length - 1]).toBe(5000)
  const fromBurst = sizes.slice(1, -1)
  expect(fromBurst).toHaveLength(events.length - startHead - 2)
  // nothing appears that was never asked for, and nothing twice
  for (const size of fromBurst) {
    expect(size).toBeGreaterThanOrEqual(1000)
    expect(size).toBeLessThan(1000 + WRITES)
  }
  expect(new Set(fromBurst).size).toBe(fromBurst.length)
  // every acknowledged write is in the log
  const logged = new Set(fromBurst)
  const missing = burst.acked.filter((i) => !logged.has(1000 + i))
  expect(missing).toEqual([])
  // the server had come back with the newest committed configuration
  expect(fromBurst[fromBurst.length - 1]).toBe(lastBefore)

  // an outside verifier agrees
  const { stdout } = await promisify(execFile)("python3", [join(ROOT, "docs", "verify_log.py"), file])
  expect(stdout.trim()).toBe(`valid ${events.length}`)

  // the views the crashed server left are exactly what a replay of the log produces
  const rebuilt = await runCli(["rebuild", "--data-dir", dataDir])
  expect(rebuilt.code, rebuilt.stdout + rebuilt.stderr).toBe(0)
  expect(rebuilt.stdout).toContain(`views equal to the live ones: replayed ${events.length} events`)
  expect(rebuilt.stdout).not.toContain("DIFFER")
}, 120_000)
