/**
 * Where a chat turn's CPU goes: attributes the samples of a `--cpu-prof` profile of bench:chat to
 * the steps of a turn (the marks BENCH_MARKS wrote), and lists the functions of chosen steps.
 *
 *   BENCH_SYNC=NORMAL BENCH_MARKS=/tmp/marks.json node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/chat.ts
 *   node --import tsx bench/chatProfile.ts /tmp/prof/<the largest>.cpuprofile /tmp/marks.json ["^model end -> agent_output"]
 *
 * Prints, per turn, the CPU sampled in each step (steps that repeat in a turn are summed), then
 * for the steps matching the pattern the functions by self and by inclusive time. Line numbers
 * are those of the code tsx ran, close to but not always the source's.
 */
import { readFileSync } from "node:fs"

interface ProfileNode {
  readonly id: number
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }
  readonly children?: ReadonlyArray<number>
}
interface Profile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly startTime: number
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}
interface Mark {
  readonly what: string
  readonly mono: number
}

const [profileFile, marksFile, pattern, topArg] = process.argv.slice(2)
if (profileFile === undefined || marksFile === undefined) throw new Error("usage: chatProfile.ts <profile> <marks.json> [step pattern] [top]")
const top = Number(topArg ?? 30)
const profile = JSON.parse(readFileSync(profileFile, "utf8")) as Profile
const turns = JSON.parse(readFileSync(marksFile, "utf8")) as ReadonlyArray<ReadonlyArray<Mark>>

const nodes = new Map(profile.nodes.map((n) => [n.id, n]))
const parent = new Map<number, number>()
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
const root = `file://${process.cwd()}/`
const name = (n: ProfileNode) =>
  `${n.callFrame.functionName || "(anonymous)"} ${n.callFrame.url.replace(root, "").replace(/node_modules\//g, "nm/")}:${n.callFrame.lineNumber + 1}`

// every step of every turn as a window of the monotonic clock (µs), in time order
const windows = turns.flatMap((t) => t.slice(1).map((m, i) => ({ from: t[i]!.mono, to: m.mono, step: `${t[i]!.what} -> ${m.what}` })))
windows.sort((a, b) => a.from - b.from)

const add = (map: Map<string, number>, key: string, us: number) => map.set(key, (map.get(key) ?? 0) + us)
const perStep = new Map<string, number>()
const self = new Map<string, number>()
const inclusive = new Map<string, number>()
const matching = pattern === undefined ? undefined : new RegExp(pattern)
let at = profile.startTime
let w = 0
for (let i = 0; i < profile.samples.length; i++) {
  at += profile.timeDeltas[i]!
  const us = profile.timeDeltas[i + 1] ?? 0
  while (w < windows.length && windows[w]!.to < at) w++
  const win = windows[w]
  if (win === undefined || win.from > at) continue
  const leaf = nodes.get(profile.samples[i]!)!
  if (leaf.callFrame.functionName === "(idle)") continue
  add(perStep, win.step, us)
  if (matching === undefined || !matching.test(win.step)) continue
  add(self, name(leaf), us)
  const seen = new Set<string>()
  for (let id: number | undefined = leaf.id; id !== undefined; id = parent.get(id)) {
    const key = name(nodes.get(id)!)
    if (!seen.has(key)) add(inclusive, key, us)
    seen.add(key)
  }
}

const perTurn = (us: number) => (us / 1000 / turns.length).toFixed(3).padStart(8)
const print = (title: string, map: Map<string, number>, n: number) => {
  console.log(`\n${title}`)
  for (const [key, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, n)) console.log(`${perTurn(us)}  ${key}`)
}
const total = [...perStep.values()].reduce((a, b) => a + b, 0)
print(`CPU ms per turn by step, ${turns.length} turns (${perTurn(total).trim()} ms in all):`, perStep, 60)
if (matching !== undefined) {
  print(`steps /${pattern}/, self time:`, self, top)
  print(`steps /${pattern}/, inclusive time:`, inclusive, top * 2)
}
