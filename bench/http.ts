/**
 * bench:http — an authenticated read, `GET /api/memory?limit=20`, requests/s through the whole
 * gateway (the compiled `annal serve` in its own process: bearer auth, the per-address rate
 * limit, the router, the handler, the SQLite read through @effect/sql, JSON) beside a plain
 * node:http server with better-sqlite3 answering the same JSON from the same rows (its own
 * process too, reading Annal's file). Both driven by autocannon with the same settings in the
 * same run, after checking that both answer the same body. Then, to tell the Effect HTTP stack's own
 * cost from Annal's, the same route on @effect/platform-node's HttpServer and HttpRouter with
 * nothing else (bench/effect-http-server.mjs): its rows through better-sqlite3, then through
 * @effect/sql-sqlite-node. Each line gives the server process's CPU per request, which on this
 * shared machine moves less than requests/s.
 */
import autocannon from "autocannon"
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { join, resolve } from "node:path"
import { isDeepStrictEqual } from "node:util"
import { cpuMs, machine, tempDir } from "./lib.js"

const ROOT = resolve(import.meta.dirname, "..")
const DURATION = Number(process.env.BENCH_SECONDS ?? 10)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16)
const MEMORIES = 200
const PATH = "/api/memory?limit=20"
const TOKEN = "bench-http-token-0123456789abcdef"

/** `BENCH_PROF_DIR=dir`: the gateway's process writes a CPU profile there when it stops. */
const PROFILE = process.env.BENCH_PROF_DIR === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_PROF_DIR}`]

const start = (args: Array<string>, nodeFlags: Array<string> = []): Promise<{ url: string; child: ChildProcess }> =>
  new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [...nodeFlags, ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, ANNAL_API_KEY: TOKEN } })
    let out = ""
    child.stdout!.on("data", (d) => {
      out += d
      const m = /listening on (http:\/\/\S+)/.exec(out)
      if (m) resolvePromise({ url: m[1]!, child })
    })
    child.on("exit", (code) => reject(new Error(`exited ${code}: ${out}`)))
  })

const stop = (child: ChildProcess) =>
  new Promise<void>((resolvePromise) => {
    if (child.exitCode !== null) return resolvePromise()
    child.removeAllListeners("exit")
    child.once("exit", () => resolvePromise())
    child.kill("SIGTERM")
  })

const call = async (url: string, path: string, init: RequestInit = {}): Promise<any> => {
  const response = await fetch(url + path, {
    ...init,
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json", ...init.headers }
  })
  const body = await response.json()
  if (!response.ok) throw new Error(`${init.method ?? "GET"} ${path}: ${response.status} ${JSON.stringify(body)}`)
  return body
}

const load = (url: string) =>
  new Promise<autocannon.Result>((resolvePromise, reject) => {
    autocannon(
      { url: url + PATH, connections: CONNECTIONS, duration: DURATION, pipelining: 1, headers: { authorization: `Bearer ${TOKEN}` } },
      (err, result) => (err ? reject(err) : resolvePromise(result))
    )
  })

/** The monotonic clock in µs, as V8's CPU profiles time their samples (CLOCK_MONOTONIC, any process). */
const monotonicUs = () => Number(process.hrtime.bigint() / 1000n)

const measure = async (name: string, server: { url: string; child: ChildProcess }) => {
  await load(server.url) // warm-up pass, discarded
  const from = monotonicUs()
  const cpuFrom = cpuMs(server.child.pid!)
  const result = await load(server.url)
  const cpuTo = cpuMs(server.child.pid!)
  if (PROFILE.length > 0 && name === "annal gateway") {
    console.log(`profile window: node --import tsx bench/httpProfile.ts <profile> gateway/dist/annal.cjs.map ${from} ${monotonicUs()} ${result.requests.total}`)
  }
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${name}: ${result.non2xx} non-2xx, ${result.errors} errors`)
  const cpuUs = cpuFrom === undefined || cpuTo === undefined ? undefined : Math.round(((cpuTo - cpuFrom) * 1000) / result.requests.total)
  console.log(
    `${name}: ${result.requests.average.toFixed(0)} req/s, p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms (${result.requests.total} requests)${cpuUs === undefined ? "" : `, ${cpuUs} µs CPU per request`}`
  )
  return { rate: result.requests.average, cpuUs }
}

/** The same route on the Effect HTTP stack alone (bench/effect-http-server.mjs), measured and stopped. */
const measureEffectFloor = async (variant: "router" | "sql", name: string, db: string, expected: unknown) => {
  const server = await start([join(ROOT, "bench/effect-http-server.mjs"), db, TOKEN, variant])
  try {
    const body = await call(server.url, PATH)
    if (!isDeepStrictEqual(body, expected)) throw new Error(`${name} answers differently:\n${JSON.stringify(body)}`)
    return await measure(name, server)
  } finally {
    await stop(server.child)
  }
}

const tmp = tempDir("http")
try {
  console.log(`machine: ${machine()}`)
  console.log(`GET ${PATH} (${MEMORIES} memories, bearer token), ${CONNECTIONS} connections, ${DURATION} s each after a warm-up`)
  execFileSync(process.execPath, [join(ROOT, "gateway/scripts/build.mjs")], { stdio: "inherit" })
  const annal = await start([join(ROOT, "gateway/bin/annal.js"), "serve", "--port", "0", "--data-dir", tmp.dir], PROFILE)
  let baseline: { url: string; child: ChildProcess } | undefined
  try {
    // the rate limiter still checks every request; its limit is set above what the run reaches
    await call(annal.url, "/api/config", { method: "PUT", body: JSON.stringify({ security: { rate_limit_per_minute: 1_000_000_000 } }) })
    for (let i = 0; i < MEMORIES; i++) {
      await call(annal.url, "/api/memory", { method: "POST", body: JSON.stringify({ content: `note ${i}: the build takes ${i} seconds`, tags: ["bench"], importance: (i % 10) / 10 }) })
    }
    baseline = await start([join(ROOT, "bench/baseline-http-server.mjs"), join(tmp.dir, "annal.db"), TOKEN])
    const [a, b] = await Promise.all([call(annal.url, PATH), call(baseline.url, PATH)])
    if (!isDeepStrictEqual(a, b) || a.items.length !== 20) throw new Error(`the two servers answer differently:\n${JSON.stringify(a)}\n${JSON.stringify(b)}`)
    const ours = await measure("annal gateway", annal)
    const base = await measure("node:http + better-sqlite3", baseline)
    const router = await measureEffectFloor("router", "Effect HttpRouter alone, rows through better-sqlite3", join(tmp.dir, "annal.db"), a)
    const routerSql = await measureEffectFloor("sql", "Effect HttpRouter alone, rows through @effect/sql", join(tmp.dir, "annal.db"), a)
    const ratio = (a: number, b: number) => Number((a / b).toFixed(3))
    console.log(
      JSON.stringify({
        bench: "http",
        ours: Math.round(ours.rate),
        baseline: Math.round(base.rate),
        unit: "req/s",
        ratio: ratio(ours.rate, base.rate),
        route: `GET ${PATH}`,
        cpu_us_per_request: { ours: ours.cpuUs, baseline: base.cpuUs, effect_router: router.cpuUs, effect_router_sql: routerSql.cpuUs },
        effect_router: { rate: Math.round(router.rate), ratio: ratio(router.rate, base.rate) },
        effect_router_sql: { rate: Math.round(routerSql.rate), ratio: ratio(routerSql.rate, base.rate) }
      })
    )
  } finally {
    await stop(annal.child)
    if (baseline !== undefined) await stop(baseline.child)
  }
} finally {
  tmp.cleanup()
}
