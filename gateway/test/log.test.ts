/**
 * The log as a transparency log over HTTP and at start: the signed checkpoint, RFC 9162 proofs
 * checked against it, and a server that refuses to start on a log cut behind its checkpoint.
 */
import Database from "better-sqlite3"
import { createHash, createPublicKey, verify } from "node:crypto"
import { rmSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { startServer, startServerProcess } from "./harness.js"

const sha = (...parts: Array<Uint8Array>) => {
  const h = createHash("sha256")
  for (const p of parts) h.update(p)
  return h.digest()
}

/** RFC 9162 §2.1.3.2, written here again from the RFC (not Annal's code). */
const verifyInclusion = (index: number, size: number, leaf: Buffer, proof: Array<Buffer>, root: Buffer) => {
  let fn = index
  let sn = size - 1
  let r = leaf
  for (const p of proof) {
    if (sn === 0) return false
    if (fn % 2 === 1 || fn === sn) {
      r = sha(Buffer.from([1]), p, r)
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2)
        sn = Math.floor(sn / 2)
      }
    } else r = sha(Buffer.from([1]), r, p)
    fn = Math.floor(fn / 2)
    sn = Math.floor(sn / 2)
  }
  return sn === 0 && r.equals(root)
}

describe("the log's checkpoints and proofs over HTTP", () => {
  it("serves a signed checkpoint that verifies with the published key, and proofs that lead to its root", async () => {
    const s = await startServer()
    try {
      for (let i = 0; i < 5; i++) expect((await s.json("/api/skills", { method: "POST", body: JSON.stringify({ name: `skill-${i}`, description: "d" }) })).status).toBe(200)
      const key = (await s.json("/api/log/public-key")).body
      expect(key.algorithm).toBe("ed25519")
      const response = await s.fetch("/api/log/checkpoint")
      expect(response.status).toBe(200)
      expect(response.headers.get("content-type")).toMatch(/^text\/plain/)
      const note = await response.text()
      const [text, signatures] = [note.slice(0, note.lastIndexOf("\n\n") + 1), note.slice(note.lastIndexOf("\n\n") + 2)]
      const [origin, sizeText, rootB64] = text.split("\n")
      expect(origin).toBe(key.name)
      const sig = Buffer.from(signatures.trim().split(" ")[2]!, "base64")
      const raw = Buffer.from(key.public_key, "base64")
      const pub = createPublicKey({ key: Buffer.concat([Buffer.from("302a300506032b6570032100", "hex"), raw]), format: "der", type: "spki" })
      expect(sig.subarray(0, 4)).toEqual(sha(Buffer.from(`${key.name}\n`), Buffer.from([1]), raw).subarray(0, 4))
      expect(verify(null, Buffer.from(text), pub, sig.subarray(4))).toBe(true)
      expect(key.verifier_key).toBe(`${key.name}+${sig.subarray(0, 4).toString("hex")}+${Buffer.concat([Buffer.from([1]), raw]).toString("base64")}`)

      const size = Number(sizeText)
      const root = Buffer.from(rootB64!, "base64")
      const entries = (await s.json(`/api/audit/entries?from_seq=1&to_seq=${size}`)).body.entries as Array<{ seq: number; hash: string }>
      for (const entry of entries) {
        const proof = (await s.json(`/api/log/proof/inclusion?seq=${entry.seq}&tree_size=${size}`)).body
        const leaf = sha(Buffer.from([0]), Buffer.from(entry.hash.replace("sha256:", ""), "hex"))
        expect(proof.leaf_hash).toBe(leaf.toString("hex"))
        expect(verifyInclusion(entry.seq - 1, size, leaf, proof.hashes.map((h: string) => Buffer.from(h, "hex")), root)).toBe(true)
      }
      const consistency = await s.json(`/api/log/proof/consistency?first=1&second=${size}`)
      expect(consistency.status).toBe(200)
      expect(consistency.body.second_root).toBe(root.toString("hex"))

      expect(await s.json(`/api/log/proof/inclusion?seq=1&tree_size=${size + 1000}`)).toMatchObject({ status: 400, body: { error: expect.stringContaining("beyond the log's head") } })
      expect(await s.json("/api/log/proof/inclusion?seq=abc")).toMatchObject({ status: 400 })
      expect((await s.json("/api/log/checkpoint", { token: null })).status).toBe(401)
    } finally {
      await s.stop()
      rmSync(s.dataDir, { recursive: true, force: true })
    }
  }, 60_000)

  it("refuses to start on a log whose tail was cut after its checkpoint, and starts with --accept-log-rollback", async () => {
    const first = await startServer()
    const dir = first.dataDir
    try {
      for (let i = 0; i < 3; i++) expect((await first.json("/api/skills", { method: "POST", body: JSON.stringify({ name: `s-${i}`, description: "d" }) })).status).toBe(200)
      expect(await first.stop()).toBe(0)
      const db = new Database(join(dir, "annal.db"))
      const head = db.prepare("SELECT MAX(seq) FROM events").pluck().get() as number
      db.prepare("DELETE FROM events WHERE seq > ?").run(head - 2)
      db.close()
      await expect(startServerProcess({ dataDir: dir })).rejects.toThrow(new RegExp(`tree size ${head}\\b[\\s\\S]*the log's head is seq ${head - 2} `))
      const accepted = await startServerProcess({ dataDir: dir, args: ["--accept-log-rollback"] })
      try {
        const events = (await accepted.json(`/api/audit/entries?from_seq=${head - 1}&to_seq=${head - 1}`)).body.entries
        expect(events[0].action).toBe("log_rollback_accepted")
      } finally {
        await accepted.stop()
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 60_000)
})
