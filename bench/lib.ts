/** Small helpers shared by the benchmark scripts. */
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { availableParallelism, loadavg, tmpdir } from "node:os"
import { join } from "node:path"

/** A fresh folder under the OS temp dir, removed on `cleanup` (and on exit, as a fallback). */
export const tempDir = (prefix: string) => {
  const dir = mkdtempSync(join(tmpdir(), `annal-bench-${prefix}-`))
  const cleanup = () => rmSync(dir, { recursive: true, force: true })
  process.once("exit", cleanup)
  return { dir, file: (name: string) => join(dir, name), cleanup }
}

/** Items per second. */
export const rate = (items: number, ms: number) => (items * 1000) / ms

/** A number with thousands separators and no decimals. */
export const fmt = (n: number) => Math.round(n).toLocaleString("en-US")

/** Runs `f` and returns its result with the wall time it took in ms. */
export const timed = <A>(f: () => A): { value: A; ms: number } => {
  const start = performance.now()
  const value = f()
  return { value, ms: performance.now() - start }
}

/** Prints the one machine-readable line a benchmark ends with. */
export const printResult = (
  bench: string,
  ours: number,
  baseline: number,
  extra: Readonly<Record<string, unknown>> = {}
) => {
  console.log(
    JSON.stringify({
      bench,
      ours: Math.round(ours),
      baseline: Math.round(baseline),
      unit: "events/s",
      ratio: Number((ours / baseline).toFixed(3)),
      ...extra
    })
  )
}

/** The machine's cores and 1-minute load, printed so a reader can tell a busy machine's figures. */
export const machine = () =>
  `${availableParallelism()} cores, load average ${loadavg()[0]!.toFixed(2)}, node ${process.version}`

/** CPU ms (user + system) a process has used so far, from /proc (Linux); undefined elsewhere. */
export const cpuMs = (pid: number): number | undefined => {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100 // clock ticks of 1/100 s
  } catch {
    return undefined
  }
}
