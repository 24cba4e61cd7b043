/**
 * bench:start — milliseconds from spawning `annal serve` (the compiled build, `gateway/bin/annal.js`)
 * to its "listening on" line, beside a bare `node -e` HTTP server's, on an empty data directory
 * and on logs of 100,000 and 1,000,000 events. Also when the chain check that runs at start (in
 * the background, over the whole log) reported. Each start is a new process; the median of
 * RUNS starts is reported.
 *
 *   npm run bench:start            BENCH_EVENTS=100000 to skip the million
 */
import { Kernel } from "@annal/kernel"
import { EventStore } from "@annal/store"
import { Effect } from "effect"
import { execFileSync, spawn } from "node:child_process"
import { mkdirSync } from "node:fs"
import { join, resolve } from "node:path"
import { fmt, machine, tempDir } from "./lib.js"

const ROOT = resolve(import.meta.dirname, "..")
const RUNS = Number(process.env.BENCH_RUNS ?? 5)
const SIZES = (process.env.BENCH_EVENTS ?? "100000,1000000").split(",").map(Number)
const PER_APPEND = 500

const BARE = `require("node:http").createServer((q, s) => s.end()).listen(0, "127.0.0.1", function () { console.log("listening on http://127.0.0.1:" + this.address().port) })`

interface Started {
  readonly listeningMs: number
  /** Until "event log verified" (or a broken chain) was logged; undefined when not awaited. */
  readonly verifiedMs: number | undefined
}

/** Spawns `args`, times the "listening on" line (and, if asked, the verification line), stops it. */
const startOnce = (args: ReadonlyArray<string>, waitForVerify: boolean): Promise<Started> =>
  new Promise((resolvePromise, reject) => {
    const started = performance.now()
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ANNAL_API_KEY: "bench-start-token-0123456789" } })
    let out = ""
    let listeningMs: number | undefined
    let settled = false
    const finish = (verifiedMs: number | undefined) => {
      if (settled) return
      settled = true
      child.removeAllListeners("exit")
      child.once("exit", () => resolvePromise({ listeningMs: listeningMs!, verifiedMs }))
      child.kill("SIGTERM")
    }
    const onData = (d: Buffer) => {
      out += d
      if (listeningMs === undefined && /listening on http/.test(out)) {
        listeningMs = performance.now() - started
        if (!waitForVerify) return finish(undefined)
      }
      if (listeningMs !== undefined && /event log verified|CHAIN BROKEN|could not verify/.test(out)) finish(performance.now() - started)
    }
    child.stdout!.on("data", onData)
    child.stderr!.on("data", onData)
    child.on("exit", (code) => reject(new Error(`exited ${code} before it was ready:\n${out}`)))
  })

const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

const series = async (label: string, args: () => ReadonlyArray<string>, waitForVerify: boolean) => {
  const runs: Array<Started> = []
  for (let i = 0; i < RUNS; i++) runs.push(await startOnce(args(), waitForVerify))
  const listening = median(runs.map((r) => r.listeningMs))
  const verified = waitForVerify ? median(runs.map((r) => r.verifiedMs!)) : undefined
  console.log(
    `${label.padEnd(34)} listening after ${fmt(listening)} ms (runs: ${runs.map((r) => fmt(r.listeningMs)).join(", ")})` +
      (verified === undefined ? "" : `; chain verified after ${fmt(verified)} ms`)
  )
  return { listening, verified }
}

/** A log of `events` access decisions written through the store as the kernel builds it, in large appends. */
const writeLog = (dataDir: string, events: number) =>
  Effect.gen(function*() {
    const store = yield* EventStore
    let last: Effect.Effect<unknown, unknown> = Effect.void
    for (let written = 0; written < events; written += PER_APPEND) {
      const subject = `agent-${(written / PER_APPEND) % 64}`
      const count = Math.min(PER_APPEND, events - written)
      last = yield* store.enqueue({
        stream: `access-${subject}`,
        expectedVersion: "any",
        actor: `agent:${subject}`,
        events: Array.from({ length: count }, (_, i) => ({
          type: "access_decided",
          data: { subject, action: i % 2 === 0 ? "use_tool:exec" : "access_path:/workspace", resource: `/workspace/${subject}/notes-${written + i}.md`, allowed: i % 5 !== 0, reason: i % 5 === 0 ? "not in the agent's allowlist" : null }
        }))
      })
      // a bounded queue: wait for every 20th append's commit
      if ((written / PER_APPEND) % 20 === 19) yield* last
    }
    yield* last
  }).pipe(Effect.scoped, Effect.provide(Kernel.storeLayer({ filename: join(dataDir, "annal.db"), synchronous: "OFF" })), Effect.runPromise)

const tmp = tempDir("start")
try {
  console.log(`machine: ${machine()}`)
  execFileSync(process.execPath, [join(ROOT, "gateway/scripts/build.mjs")], { stdio: "inherit" })
  const bin = join(ROOT, "gateway/bin/annal.js")
  let n = 0
  const fresh = () => {
    const dir = join(tmp.dir, `empty-${n++}`)
    return [bin, "serve", "--port", "0", "--data-dir", dir]
  }
  const bare = await series("bare node -e http server", () => ["-e", BARE], false)
  const empty = await series("annal serve, empty data directory", fresh, false)
  const logs: Record<string, { listening_ms: number; verified_ms: number }> = {}
  for (const events of SIZES) {
    const dir = join(tmp.dir, `log-${events}`)
    mkdirSync(dir)
    const t = performance.now()
    await writeLog(dir, events)
    console.log(`(wrote ${fmt(events)} events through the store in ${((performance.now() - t) / 1000).toFixed(1)} s)`)
    const r = await series(`annal serve, ${fmt(events)} events`, () => [bin, "serve", "--port", "0", "--data-dir", dir], true)
    logs[String(events)] = { listening_ms: Math.round(r.listening), verified_ms: Math.round(r.verified!) }
  }
  console.log(`ratio (bare / annal, empty): ${(bare.listening / empty.listening).toFixed(3)}`)
  console.log(JSON.stringify({
    bench: "start",
    ours: Math.round(empty.listening),
    baseline: Math.round(bare.listening),
    unit: "ms to listening",
    ratio: Number((bare.listening / empty.listening).toFixed(3)),
    logs
  }))
} finally {
  tmp.cleanup()
}
