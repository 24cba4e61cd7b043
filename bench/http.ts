/**
 * bench:http — `GET /health` requests/s through the gateway (the real `annal serve` in its own
 * process) beside a plain node:http server answering the same JSON (also its own process), both
 * driven by autocannon with the same settings in the same run.
 */
import autocannon from "autocannon"
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"

const ROOT = resolve(import.meta.dirname, "..")
const DURATION = Number(process.env.BENCH_SECONDS ?? 10)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16)

const start = (args: Array<string>): Promise<{ url: string; child: ChildProcess }> =>
  new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, ANNAL_API_KEY: "" } })
    let out = ""
    child.stdout!.on("data", (d) => {
      out += d
      const m = /listening on (http:\/\/\S+)/.exec(out)
      if (m) resolvePromise({ url: m[1]!, child })
    })
    child.on("exit", (code) => reject(new Error(`exited ${code}: ${out}`)))
  })

const load = (url: string) =>
  new Promise<autocannon.Result>((resolvePromise, reject) => {
    autocannon({ url: `${url}/health`, connections: CONNECTIONS, duration: DURATION, pipelining: 1 }, (err, result) =>
      err ? reject(err) : resolvePromise(result))
  })

const measure = async (name: string, args: Array<string>) => {
  const { url, child } = await start(args)
  try {
    await load(url) // warm-up pass, discarded
    const result = await load(url)
    if (result.non2xx > 0 || result.errors > 0) throw new Error(`${name}: ${result.non2xx} non-2xx, ${result.errors} errors`)
    console.log(`${name}: ${result.requests.average.toFixed(0)} req/s, p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms`)
    return result.requests.average
  } finally {
    child.kill("SIGTERM")
  }
}

const dataDir = mkdtempSync(join(tmpdir(), "annal-bench-http-"))
try {
  console.log(`GET /health, ${CONNECTIONS} connections, ${DURATION} s each after a warm-up`)
  const ours = await measure("annal gateway", [join(ROOT, "gateway/bin/annal.js"), "serve", "--port", "0", "--data-dir", dataDir])
  const baseline = await measure("plain node:http", [join(ROOT, "bench/baseline-http-server.mjs")])
  console.log(JSON.stringify({ bench: "http", ours: Math.round(ours), baseline: Math.round(baseline), unit: "req/s", ratio: Number((ours / baseline).toFixed(3)) }))
} finally {
  rmSync(dataDir, { recursive: true, force: true })
}
