import { describe, expect, it } from "@effect/vitest"
import { Checkpoint, Configuration, DataDir, Kernel, LOG_ROLLBACK_ACCEPTED, Transparency, TransparencyLog } from "@annal/kernel"
import { Chain, EventStore, MerkleTree } from "@annal/store"
import Database from "better-sqlite3"
import { Effect, Exit, Layer } from "effect"
import { cpSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const tempDir = (prefix: string) => mkdtempSync(join(tmpdir(), prefix))

/** The store and the transparency log over a data directory, as the kernel builds them. */
const logAt = (dir: string, options: Transparency.TransparencyOptions = {}) =>
  Transparency.layer(options).pipe(
    Layer.provideMerge(Configuration.layer),
    Layer.provideMerge(Layer.merge(Kernel.storeLayer({ filename: join(dir, "annal.db"), synchronous: "NORMAL" }), DataDir.layer(dir)))
  )

const run = <A, E>(dir: string, f: Effect.Effect<A, E, TransparencyLog | EventStore>, options: Transparency.TransparencyOptions = {}) =>
  Effect.runPromiseExit(Effect.scoped(Effect.provide(f, logAt(dir, options))))

const appendSome = (n: number, tag: string) =>
  Effect.flatMap(EventStore, (store) =>
    Effect.forEach(Array.from({ length: n }, (_, i) => i), (i) =>
      store.append({ stream: `thing-${tag}-${i}`, expectedVersion: 0, events: [{ type: "thing_happened", data: { tag, i } }], actor: "system" }), { discard: true }))

const refusal = (exit: Exit.Exit<unknown, unknown>): string => {
  if (Exit.isSuccess(exit)) throw new Error("the log was accepted")
  return String((exit.cause as { error?: { message?: string } }).error?.message ?? JSON.stringify(exit.cause))
}

/** Rewrites the chain from `seq` on after changing that event's data: a consistent rewrite an attacker could make. */
const rewriteFrom = (dir: string, seq: number) => {
  const db = new Database(join(dir, "annal.db"))
  const rows = db.prepare("SELECT * FROM events WHERE seq >= ? ORDER BY seq").all(seq) as Array<any>
  let prev = (db.prepare("SELECT hash FROM events WHERE seq = ?").pluck().get(seq - 1) as string | undefined) ?? Chain.GENESIS_HASH
  const update = db.prepare("UPDATE events SET data = ?, prev_hash = ?, hash = ? WHERE seq = ?")
  for (const row of rows) {
    const data = row.seq === seq ? JSON.stringify({ forged: true }) : row.data
    const hash = Chain.hashOfValues(row, JSON.parse(data), JSON.parse(row.meta), prev)
    update.run(data, prev, hash, row.seq)
    prev = hash
  }
  // the attacker rebuilds the tree too: the store builds it from the chain hashes
  db.exec("DELETE FROM merkle_nodes; DELETE FROM merkle_state")
  db.close()
}

describe("the log's signed checkpoints", () => {
  it("signs a checkpoint that verifies with the published key, and one whose key was replaced does not", async () => {
    const dir = tempDir("annal-tlog-")
    try {
      const first = await run(dir, Effect.gen(function*() {
        yield* appendSome(5, "a")
        const log = yield* TransparencyLog
        const signed = yield* log.checkpoint({ fresh: true })
        const store = yield* EventStore
        return { signed: signed!, key: log.key, tree: yield* store.tree.head }
      }))
      if (Exit.isFailure(first)) throw new Error(String(first.cause))
      const { key, signed, tree } = first.value
      expect(signed.size).toBe(5)
      expect(signed.root).toBe(tree.root)
      expect(signed.note.split("\n").slice(0, 3)).toEqual([key.name, "5", Buffer.from(tree.root, "hex").toString("base64")])
      const verifier = Checkpoint.parseVerifierKey(key.verifierKey)
      if (typeof verifier === "string") throw new Error(verifier)
      expect(Checkpoint.openCheckpoint(signed.note, verifier)).toMatchObject({ size: 5, root: tree.root })
      expect(readFileSync(join(dir, "checkpoint"), "utf8")).toBe(signed.note)
      // a changed byte of the note does not verify
      expect(typeof Checkpoint.openCheckpoint(signed.note.replace("\n5\n", "\n6\n"), verifier)).toBe("string")

      // the signing key is replaced: the server starts refusing, since its checkpoint no longer verifies…
      rmSync(join(dir, "log-signing.key"))
      expect(refusal(await run(dir, Effect.void))).toMatch(/checkpoint .*checkpoint \(data directory\) does not verify/)
      // …and what it signs once accepted does not verify with the key published before
      const replaced = await run(dir, Effect.flatMap(TransparencyLog, (log) => log.checkpoint({ fresh: true })), { acceptRollback: true })
      if (Exit.isFailure(replaced)) throw new Error(String(replaced.cause))
      expect(typeof Checkpoint.openCheckpoint(replaced.value!.note, verifier)).toBe("string")
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it("refuses a log whose tail was cut, naming the checkpoint and the head; --accept-log-rollback starts and records it", async () => {
    const dir = tempDir("annal-tlog-")
    try {
      expect(Exit.isSuccess(await run(dir, appendSome(10, "a")))).toBe(true)
      const db = new Database(join(dir, "annal.db"))
      db.exec("DELETE FROM events WHERE seq > 7")
      const headHash = db.prepare("SELECT hash FROM events WHERE seq = 7").pluck().get() as string
      db.close()
      const message = refusal(await run(dir, Effect.void))
      expect(message).toContain(`checkpoint ${join(dir, "checkpoint")} (data directory`)
      expect(message).toContain("tree size 10")
      expect(message).toContain(`the log's head is seq 7 (hash ${headHash})`)
      expect(message).toContain("cut or rolled back")

      const accepted = await run(dir, Effect.flatMap(EventStore, (store) => store.read(8, 8)), { acceptRollback: true })
      if (Exit.isFailure(accepted)) throw new Error(String(accepted.cause))
      expect(accepted.value[0]).toMatchObject({ type: LOG_ROLLBACK_ACCEPTED, stream: "log", data: { head: { seq: 7, hash: headHash } } })
      // accepted once, the next start is clean
      expect(Exit.isSuccess(await run(dir, Effect.void))).toBe(true)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it("refuses a log rewritten behind its checkpoint (chain and tree recomputed), and one with an edited event after it", async () => {
    const dir = tempDir("annal-tlog-")
    try {
      expect(Exit.isSuccess(await run(dir, appendSome(12, "a")))).toBe(true)
      const copy = tempDir("annal-tlog-copy-")
      cpSync(dir, copy, { recursive: true })
      rewriteFrom(dir, 4)
      expect(refusal(await run(dir, Effect.void))).toMatch(/tree size 12.*the log's event 12 is not the one the checkpoint signed/)

      // events committed after the last checkpoint (a crash before the next one), one of them edited:
      // the start walks the chain from the checkpoint on and finds it
      const after = await Effect.runPromiseExit(Effect.scoped(Effect.provide(appendSome(3, "b"), Kernel.storeLayer({ filename: join(copy, "annal.db"), synchronous: "NORMAL" }))))
      expect(Exit.isSuccess(after)).toBe(true)
      const db = new Database(join(copy, "annal.db"))
      db.prepare("UPDATE events SET data = ? WHERE seq = 14").run(JSON.stringify({ edited: true }))
      db.close()
      expect(refusal(await run(copy, Effect.void))).toMatch(/the hash chain is broken at seq 14: hash does not match/)
      rmSync(copy, { recursive: true, force: true })
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it("catches a data directory rolled back to an earlier copy through the witness directory", async () => {
    const dir = tempDir("annal-tlog-")
    const witness = tempDir("annal-witness-")
    const earlier = tempDir("annal-tlog-earlier-")
    try {
      expect(Exit.isSuccess(await run(dir, appendSome(4, "a"), { checkpointDir: witness }))).toBe(true)
      cpSync(dir, earlier, { recursive: true })
      expect(Exit.isSuccess(await run(dir, appendSome(6, "b"), { checkpointDir: witness }))).toBe(true)
      expect(readFileSync(join(witness, "checkpoint"), "utf8").split("\n")[1]).toBe("10")
      // the whole data directory goes back to the copy: its own checkpoint agrees with it…
      rmSync(dir, { recursive: true, force: true })
      cpSync(earlier, dir, { recursive: true })
      expect(Exit.isSuccess(await run(dir, Effect.void))).toBe(true)
      // …the witness does not
      const message = refusal(await run(dir, Effect.void, { checkpointDir: witness }))
      expect(message).toContain(`checkpoint ${join(witness, "checkpoint")} (witness`)
      expect(message).toContain("tree size 10")
      expect(message).toMatch(/the log's head is seq [45] /)
    } finally {
      for (const d of [dir, witness, earlier]) rmSync(d, { recursive: true, force: true })
    }
  })

  it("verifies inclusion of every event against the signed root with the RFC 9162 algorithm", async () => {
    const dir = tempDir("annal-tlog-")
    try {
      const result = await run(dir, Effect.gen(function*() {
        yield* appendSome(21, "a")
        const signed = (yield* (yield* TransparencyLog).checkpoint({ fresh: true }))!
        const store = yield* EventStore
        const events = yield* store.read(1, signed.size)
        for (const event of events) {
          const proof = yield* store.tree.inclusion(event.seq, signed.size)
          expect(MerkleTree.verifyInclusion(event.seq - 1, signed.size, MerkleTree.eventLeafHash(event.hash), proof.hashes.map((h) => Buffer.from(h, "hex")), Buffer.from(signed.root, "hex"))).toBe(true)
        }
        return events.length
      }))
      expect(Exit.isSuccess(result) && result.value).toBe(21)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
