/**
 * Where bench:http's gateway spends its CPU per request: reads a CPU profile of the compiled
 * server (`BENCH_PROF_DIR=dir npm run bench:http`), maps its samples through the bundle's source
 * map, keeps those inside the measured pass, and prints µs per request by layer and the
 * functions that cost most.
 *
 *   node --import tsx bench/httpProfile.ts <profile> gateway/dist/annal.cjs.map <fromUs> <toUs> <requests>
 */
import { readFileSync } from "node:fs"
import { SourceMap } from "node:module"

interface ProfileNode {
  readonly id: number
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number; readonly columnNumber: number }
}
interface Profile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly startTime: number
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

const [file, mapFile, fromArg, toArg, requestsArg] = process.argv.slice(2)
if (requestsArg === undefined) throw new Error("usage: httpProfile.ts <profile> <source map> <fromUs> <toUs> <requests>")
const [from, to, requests] = [Number(fromArg), Number(toArg), Number(requestsArg)]
const profile = JSON.parse(readFileSync(file!, "utf8")) as Profile
const map = new SourceMap(JSON.parse(readFileSync(mapFile!, "utf8")))
const nodes = new Map(profile.nodes.map((n) => [n.id, n]))

/** A sample's source: the original file (through the source map) or what V8 names it. */
const sourceOf = (node: ProfileNode): { readonly file: string; readonly fn: string } => {
  const f = node.callFrame
  if (!/annal\.c?js$/.test(f.url)) return { file: f.url === "" ? f.functionName : f.url, fn: f.functionName }
  const entry = map.findEntry(f.lineNumber, f.columnNumber) as { originalSource?: string; originalLine?: number; name?: string }
  const source = (entry.originalSource ?? "?").replace(/^.*node_modules\//, "").replace(/^.*\/(gateway|kernel|store|spec|programs)\/src\//, "annal:$1/")
  return { file: source, fn: `${entry.name ?? f.functionName} ${source}:${(entry.originalLine ?? 0) + 1}` }
}

/** The layer a source belongs to. */
const LAYERS: ReadonlyArray<readonly [string, RegExp]> = [
  ["idle", /^\(idle\)$/],
  ["garbage collection", /^\(garbage collector\)$/],
  ["socket writes and reads (writev, read)", /^(writev|writeUtf8String|writeBuffer|read|readStart|readStop)$/],
  ["V8 builtins and unmapped (error stacks, JSON, the bundle's own line 1)", /^(set natives|get name|parse|\(program\)|\?|set length|runMicrotasks|getLibuvNow)$/],
  ["node http (parser, response, streams)", /^node:(_http|internal\/streams|internal\/http|net|events|internal\/url|url)/],
  ["SQLite through @effect/sql", /^@effect\/sql|^better-sqlite3|^(all|get|run|prepare|iterate)$/],
  ["Effect's fiber runtime", /^effect\/src\/(internal\/(fiberRuntime|core|core-effect|context|fiberRefs|fiberRefs\/patch|runtime|scheduler|effectable|fiberId|runtimeFlags|differ|opCodes|option|either|cause|layer|pool|tracer|metric|supervisor|logger|clock|random|defaultServices|fiberMessage|completedRequestMap|concurrency|singleShotGen|timeout|data|version|schedule|hashMap|hashSet)|Scheduler|Function|Utils|Context|FiberRefs|Data|Equal|Hash|Predicate|Pipeable|Option|Either|Cause|Chunk|MutableRef|GlobalValue)/],
  ["Schema (decode and encode)", /^effect\/src\/(Schema|ParseResult|SchemaAST|internal\/schema)/],
  ["@effect/platform HTTP (router, HttpApi, middleware, bodies)", /^@effect\/platform|^find-my-way-ts/],
  ["Annal's own code (guard, auth and its token hash, metrics, routes, handler)", /^annal:|^\.\.\/src\/|^prom-client|^node:internal\/crypto|^RegExp:/]
]
const layerOf = (file: string) => LAYERS.find(([, re]) => re.test(file))?.[0] ?? "other"

const byLayer = new Map<string, number>()
const byFunction = new Map<string, number>()
let t = profile.startTime
let busy = 0
for (let i = 0; i < profile.samples.length; i++) {
  t += profile.timeDeltas[i]!
  if (t < from || t > to) continue
  const us = profile.timeDeltas[i + 1] ?? 0
  const source = sourceOf(nodes.get(profile.samples[i]!)!)
  const layer = layerOf(source.file)
  byLayer.set(layer, (byLayer.get(layer) ?? 0) + us)
  if (layer === "idle") continue
  busy += us
  byFunction.set(source.fn, (byFunction.get(source.fn) ?? 0) + us)
}
const perRequest = (us: number) => `${(us / requests).toFixed(1).padStart(7)} µs`
console.log(`${requests} requests in ${((to - from) / 1e6).toFixed(1)} s; CPU busy ${(busy / 1000).toFixed(0)} ms: ${perRequest(busy)} per request`)
for (const [layer, us] of [...byLayer].sort((a, b) => b[1] - a[1])) {
  console.log(`${perRequest(us)}  ${layer === "idle" ? "      " : `${((100 * us) / busy).toFixed(1).padStart(5)}%`}  ${layer}`)
}
if (process.env.SHOW_OTHER) {
  const other = new Map<string, number>()
  let t2 = profile.startTime
  for (let i = 0; i < profile.samples.length; i++) {
    t2 += profile.timeDeltas[i]!
    if (t2 < from || t2 > to) continue
    const source = sourceOf(nodes.get(profile.samples[i]!)!)
    if (layerOf(source.file) === "other") other.set(source.file, (other.get(source.file) ?? 0) + (profile.timeDeltas[i + 1] ?? 0))
  }
  for (const [f, us] of [...other].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(`other ${perRequest(us)}  ${f}`)
}
console.log("\nfunctions (self time):")
for (const [fn, us] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`${perRequest(us)}  ${fn}`)
