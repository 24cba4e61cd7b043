/**
 * The floor under bench:chat: the durable work a turn does, done with the raw primitives and
 * nothing of the kernel. For each measured turn, the event rows ours inserted (read back from
 * ours' file, so the same ids, JSON text and hashes) are inserted into a table of the same DDL
 * with a prepared statement, committed at the same points as ours committed them (and, for
 * reference, in only `MIN_COMMITS` commits: the least a turn that records its message, its write
 * before it runs, what it read before the model hears it, and its reply before answering can
 * do); the written file is placed as the workspace places it (a temporary file, written, fsync'd,
 * renamed) and committed to a git repository by git itself (`git add`, `git commit`: two
 * processes, so this floor's commit is git's cost plus two spawns), each timed on its own: a write tool answers once the file is
 * placed; its commit follows. No projection, no chain computed, no JSON made, no Effect, no
 * HTTP: what is left is SQLite's inserts and commits and the file system's work.
 */
import Database from "better-sqlite3"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import { join } from "node:path"
import type { EventRow, EventStoreSqlite } from "@annal/store"

export const MIN_COMMITS = 4

/** One turn as ours did it: its first event's seq and, in order, each row inserted ("i") and each commit ("c"). */
export interface TurnShape {
  readonly firstSeq: number
  readonly steps: ReadonlyArray<"i" | "c">
}


const median = (values: ReadonlyArray<number>) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!

/** Median ms per turn: the rows in ours' commits, in MIN_COMMITS commits, the file placed, and its git commit. */
export const rawFloor = (oursFile: string, shapes: ReadonlyArray<TurnShape>, dir: string, synchronous: EventStoreSqlite.Synchronous) => {
  const ours = new Database(oursFile, { readonly: true })
  const ddl = ours.prepare("SELECT sql FROM sqlite_master WHERE tbl_name = 'events' AND sql IS NOT NULL").pluck().all() as Array<string>
  const rowsOf = ours.prepare("SELECT seq, id, stream, version, type, actor, at, data, meta, prev_hash, hash FROM events WHERE seq >= ? ORDER BY seq LIMIT ?")
  const turns = shapes.map((s) => rowsOf.all(s.firstSeq, s.steps.filter((x) => x === "i").length) as Array<EventRow>)
  ours.close()

  const timeRows = (file: string, commitsOf: (shape: TurnShape) => ReadonlyArray<"i" | "c">) => {
    const db = new Database(file)
    db.pragma("journal_mode = WAL")
    db.pragma(`synchronous = ${synchronous}`)
    for (const sql of ddl) db.exec(sql)
    const insert = db.prepare("INSERT INTO events (seq, id, stream, version, type, actor, at, data, meta, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
    const begin = db.prepare("BEGIN")
    const commit = db.prepare("COMMIT")
    const times = shapes.map((shape, t) => {
      const rows = turns[t]!
      let next = 0
      let open = false
      const started = performance.now()
      for (const step of commitsOf(shape)) {
        if (step === "i") {
          if (!open) begin.run()
          open = true
          const r = rows[next++]!
          insert.run(r.seq, r.id, r.stream, r.version, r.type, r.actor, r.at, r.data, r.meta, r.prev_hash, r.hash)
        } else if (open) {
          commit.run()
          open = false
        }
      }
      if (open) commit.run()
      return performance.now() - started
    })
    db.close()
    return median(times)
  }

  // the same rows in MIN_COMMITS commits, spread evenly over the turn
  const fewest = (shape: TurnShape): ReadonlyArray<"i" | "c"> => {
    const n = shape.steps.filter((x) => x === "i").length
    const out: Array<"i" | "c"> = []
    for (let i = 0; i < n; i++) {
      out.push("i")
      if ((i + 1) % Math.ceil(n / MIN_COMMITS) === 0) out.push("c")
    }
    return [...out, "c"]
  }

  const worktree = join(dir, "floor-workspace")
  fs.mkdirSync(worktree, { recursive: true })
  const git = (...args: Array<string>) => execFileSync("git", args, { cwd: worktree, stdio: "ignore" })
  git("init", "-q", "-b", "main")
  fs.writeFileSync(join(worktree, "README.md"), "floor\n")
  git("-c", "user.name=bench", "-c", "user.email=bench@annal.invalid", "add", "README.md")
  git("-c", "user.name=bench", "-c", "user.email=bench@annal.invalid", "commit", "-q", "-m", "start")
  const tmpDir = join(worktree, ".git", "annal-tmp")
  fs.mkdirSync(tmpDir, { recursive: true })
  const placed: Array<number> = []
  const committed: Array<number> = []
  for (let t = 0; t < shapes.length; t++) {
    const started = performance.now()
    const relative = `notes/turn-${t}.md`
    const target = join(worktree, relative)
    fs.mkdirSync(join(worktree, "notes"), { recursive: true })
    const tmp = join(tmpDir, `w-${t}`)
    const fd = fs.openSync(tmp, "wx", 0o644)
    fs.writeSync(fd, `a short note for turn ${t}\n`)
    fs.fsyncSync(fd)
    fs.closeSync(fd)
    fs.renameSync(tmp, target)
    const middle = performance.now()
    git("add", "--", relative)
    git("-c", "user.name=annal", "-c", "user.email=annal@localhost", "commit", "-q", "-m", `write ${relative}`)
    placed.push(middle - started)
    committed.push(performance.now() - middle)
  }
  return {
    rowsInOursCommits: timeRows(join(dir, "floor-a.db"), (shape) => shape.steps),
    rowsInFewestCommits: timeRows(join(dir, "floor-b.db"), fewest),
    placed: median(placed),
    gitCommit: median(committed)
  }
}
