/**
 * A log whose tail was cut while the server was stopped (or an older copy of it put back): the
 * views, written in the same transactions as the log, are then ahead of it. The start rebuilds
 * them from the log, forgets the idempotency keys of the events it lost, says so in
 * `/api/status`, and writes work again (before, every memory write answered 500 on the views'
 * unique seq until `annal rebuild`).
 */
import Database from "better-sqlite3"
import { rmSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { type RunningServer, startServer } from "./harness.js"

const remember = async (s: RunningServer, content: string, headers: Record<string, string> = {}) => {
  const response = await s.json("/api/memory", { method: "POST", body: JSON.stringify({ content }), headers })
  expect(response.status).toBe(200)
  return response.body.id as string
}

describe("a log whose tail was cut while stopped", () => {
  it("starts with views that follow the log, serves nothing the log lost, and accepts writes", async () => {
    const first = await startServer()
    const dir = first.dataDir
    try {
      const kept = await remember(first, "kept: written before the cut")
      const keptSeq = (await first.json("/api/status")).body.components.state_store.head_seq as number
      const lost = await remember(first, "lost: its event is cut", { "idempotency-key": "cut-key" })
      await remember(first, "lost too")
      const put = await first.fetch("/api/workspace/file/notes/after-cut.txt", { method: "PUT", body: "still on disk", headers: { "content-type": "text/plain" } })
      expect(put.status).toBe(200)
      expect(await first.stop()).toBe(0)

      const db = new Database(join(dir, "annal.db"))
      db.prepare("DELETE FROM events WHERE seq > ?").run(keptSeq)
      db.close()

      const second = await startServer({ dataDir: dir, args: ["--accept-log-rollback"] })
      try {
        const status = (await second.json("/api/status")).body.components.state_store
        // unhealthy for what it is: a log shorter than the checkpoint it signed (the rollback was accepted)
        expect(status.healthy).toBe(false)
        expect(status.detail).toMatch(/^checkpoint .* signed \d+ events but the log's head is seq/)
        expect(status.repaired_at_start.join(" ")).toMatch(new RegExp(`views reflected seq \\d+ but the log ends at seq ${keptSeq}\\b.*rebuilt`))
        expect(status.repaired_at_start.join(" ")).toMatch(/1 idempotency key of events after seq \d+ forgotten/)
        expect(status.detail).toMatch(/; at start the views reflected/)

        // the views follow the log: what it lost is not served
        const list = (await second.json("/api/memory")).body
        expect(list.items.map((m: { name: string }) => m.name)).toEqual([kept])
        expect((await second.json(`/api/memory/${lost}`)).status).toBe(404)

        // writes work, and the forgotten key makes a new memory rather than answering with a lost one
        const again = await remember(second, "lost: its event is cut", { "idempotency-key": "cut-key" })
        expect(again).not.toBe(lost)
        await remember(second, "written after the cut")
        expect((await second.json("/api/memory")).body.total).toBe(3)

        // the file the repository still holds is recorded again rather than left unnamed by the log
        const file = await second.fetch("/api/workspace/file/notes/after-cut.txt")
        expect(file.status).toBe(200)
        expect(await file.text()).toBe("still on disk")
        const reconciled = (await second.json("/api/audit/entries?action=workspace_reconciled")).body.entries
        expect(reconciled.length).toBeGreaterThan(0)

        expect((await second.json("/api/audit/verify")).body.valid).toBe(true)
      } finally {
        await second.stop()
      }

      // the next start finds views and log in step: nothing to repair
      const third = await startServer({ dataDir: dir })
      try {
        expect((await third.json("/api/status")).body.components.state_store.repaired_at_start).toEqual([])
        expect((await third.json("/api/memory")).body.total).toBe(3)
      } finally {
        await third.stop()
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 60_000)
})
