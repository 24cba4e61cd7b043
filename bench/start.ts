/**
 * bench:start — milliseconds from spawning `annal serve` (the compiled build, `gateway/bin/annal.js`)
 * to its "listening on" line, beside a bare `node -e` HTTP server's, on an empty data directory
 * and on logs of 100,000 and 1,000,000 events. Each start is a new process; the median of RUNS
 * starts is reported. A log written through the store has no signed checkpoint yet, so its first
 * start walks the whole chain and signs one: that start is reported on its own, and the starts
 * after it (what a server restarting on its log pays) are the series. Beside each log's starts,
 * the full walk the start no longer makes: `annal audit verify` on the same directory.
 *
 *   npm run bench:start            BENCH_EVENTS=100000 to skip the million
 */
import { Kernel } from "@annal/kernel"
import { EventStore } from "@annal/store"
import { Effect } from "effect"
import { execFileSync, spawn } from "node:child_process"
import { mkdirSync } from "node:fs"
import { join, resolve } from "node:path"
import { cpuMs, fmt, machine, tempDir } from "./lib.js"

const ROOT = resolve(import.meta.dirname, "..")
const RUNS = Number(process.env.BENCH_RUNS ?? 5)
const SIZES = (process.env.BENCH_EVENTS ?? "100000,1000000").split(",").map(Number)
const PER_APPEND = 500

const BARE = `require("node:http").createServer((q, s) => s.end()).listen(0, "127.0.0.1", function () { console.log("listening on http://127.0.0.1:" + this.address().port) })`

/** CPU ms of the last start `startOnce` timed: on a shared machine, steadier than its wall time. */
let lastCpuMs: number | undefined

/** Spawns `args`, returns the ms until its "listening on" line, and stops it. */
const startOnce = (args: ReadonlyArray<string>): Promise<number> =>
  new Promise((resolvePromise, reject) => {
    const started = performance.now()
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ANNAL_API_KEY: "bench-start-token-0123456789" } })
    let out = ""
    const onData = (d: Buffer) => {
      out += d
      if (/listening on http/.test(out)) {
        const listeningMs = performance.now() - started
        lastCpuMs = cpuMs(child.pid!)
        child.stdout!.off("data", onData)
        child.stderr!.off("data", onData)
        child.removeAllListeners("exit")
        child.once("exit", () => resolvePromise(listeningMs))
        child.kill("SIGTERM")
      }
    }
    child.stdout!.on("data", onData)
    child.stderr!.on("data", onData)
    child.on("exit", (code) => reject(new Error(`exited ${code} before it was ready:\n${out}`)))
  })

/** Runs `args` to its end and returns the ms it took (it must exit 0). */
const runOnce = (args: ReadonlyArray<string>): number => {
  const started = performance.now()
  execFileSync(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] })
  return performance.now() - started
}

const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

const series = async (label: string, args: () => ReadonlyArray<string>) => {
  const runs: Array<number> = []
  const cpu: Array<number> = []
  for (let i = 0; i < RUNS; i++) {
    runs.push(await startOnce(args()))
    if (lastCpuMs !== undefined) cpu.push(lastCpuMs)
  }
  const listening = median(runs)
  const cpuText = cpu.length === 0 ? "" : `; CPU ${fmt(median(cpu))} ms`
  console.log(`${label.padEnd(40)} listening after ${fmt(listening)} ms (runs: ${runs.map(fmt).join(", ")})${cpuText}`)
  return listening
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
  const bare = await series("bare node -e http server", () => ["-e", BARE])
  const empty = await series("annal serve, empty data directory", fresh)
  const logs: Record<string, { listening_ms: number; first_start_ms: number; full_verify_ms: number; ratio_full_verify: number }> = {}
  for (const events of SIZES) {
    const dir = join(tmp.dir, `log-${events}`)
    mkdirSync(dir)
    const t = performance.now()
    await writeLog(dir, events)
    console.log(`(wrote ${fmt(events)} events through the store in ${((performance.now() - t) / 1000).toFixed(1)} s)`)
    const serve = [bin, "serve", "--port", "0", "--data-dir", dir]
    const first = await startOnce(serve)
    console.log(`${`annal serve, ${fmt(events)} events, first`.padEnd(40)} listening after ${fmt(first)} ms (no checkpoint yet: the whole chain walked, then signed)`)
    const listening = await series(`annal serve, ${fmt(events)} events`, () => serve)
    const verify = runOnce([bin, "audit", "verify", "--data-dir", dir])
    console.log(`${`annal audit verify, ${fmt(events)} events`.padEnd(40)} ${fmt(verify)} ms (the full walk; ratio to a start: ${(verify / listening).toFixed(1)})`)
    logs[String(events)] = { listening_ms: Math.round(listening), first_start_ms: Math.round(first), full_verify_ms: Math.round(verify), ratio_full_verify: Number((verify / listening).toFixed(2)) }
  }
  console.log(`ratio (bare / annal, empty): ${(bare / empty).toFixed(3)}`)
  console.log(JSON.stringify({
    bench: "start",
    ours: Math.round(empty),
    baseline: Math.round(bare),
    unit: "ms to listening",
    ratio: Number((bare / empty).toFixed(3)),
    logs
  }))
} finally {
  tmp.cleanup()
}
