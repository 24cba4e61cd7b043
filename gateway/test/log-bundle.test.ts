/**
 * Proof bundles from a real server, checked by the independent verifier docs/verify_bundle.mjs
 * (a child process importing nothing of Annal's) and by `annal log verify-bundle`: a valid
 * bundle passes; an edited event, a changed proof, a bundle re-signed with another key, and a
 * server whose signing key was replaced are each rejected, naming what failed.
 */
import Database from "better-sqlite3"
import { execFile } from "node:child_process"
import { generateKeyPairSync } from "node:crypto"
import { readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { promisify } from "node:util"
import { Checkpoint, SigningKey } from "@annal/kernel"
import { Chain } from "@annal/store"
import { describe, expect, it } from "vitest"
import { ROOT, runCli, type RunningServer, startServer, tempDir } from "./harness.js"

/** Runs the outside verifier; a non-zero exit is a result. */
const outside = async (file: string, key?: string) => {
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [join(ROOT, "docs", "verify_bundle.mjs"), file, ...(key === undefined ? [] : ["--key", key])])
    return { code: 0, stdout }
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string }
    return { code: err.code ?? -1, stdout: `${err.stdout ?? ""}${err.stderr ?? ""}` }
  }
}

const addSkills = async (s: RunningServer, n: number, prefix: string) => {
  for (let i = 0; i < n; i++) expect((await s.json("/api/skills", { method: "POST", body: JSON.stringify({ name: `${prefix}-${i}`, description: "d" }) })).status).toBe(200)
}

/** The rows of the log as the JSONL export writes them (data and meta parsed), read from the file. */
const rows = (dataDir: string, seqs: ReadonlyArray<number>) => {
  const db = new Database(join(dataDir, "annal.db"), { readonly: true })
  try {
    const get = db.prepare("SELECT * FROM events WHERE seq = ?")
    return seqs.map((seq) => {
      const row = get.get(seq) as { seq: number; data: string; meta: string }
      return { ...row, data: JSON.parse(row.data) as unknown, meta: JSON.parse(row.meta) as unknown }
    })
  } finally {
    db.close()
  }
}

/** A deterministic pseudo-random sequence, so a failure can be replayed. */
const lcg = (seed: number) => () => {
  seed = (seed * 1103515245 + 12345) % 2147483648
  return seed / 2147483648
}

const read = (file: string) => JSON.parse(readFileSync(file, "utf8"))

describe("proof bundles and the independent verifier", () => {
  it("a bundle from a running server verifies offline; an edited event, a changed proof and another key are each named", async () => {
    const s = await startServer()
    const work = tempDir()
    try {
      await addSkills(s, 12, "skill")
      const key = (await s.json("/api/log/public-key")).body.verifier_key as string
      const file = join(work, "bundle.json")
      const made = await runCli(["log", "bundle", "--data-dir", s.dataDir, "--from", "3", "--to", "10", "--out", file])
      expect(made.stderr).toBe("")
      expect(made.code).toBe(0)
      const bundle = read(file)
      expect(bundle.format).toBe("annal-log-bundle/1")
      expect(bundle.public_key.verifier_key).toBe(key)
      expect(bundle.entries.map((e: any) => e.event.seq)).toEqual([3, 4, 5, 6, 7, 8, 9, 10])
      // the checkpoint was signed on demand: it covers the whole log
      const head = (await s.json("/api/status")).body.components.state_store.head_seq
      expect(bundle.checkpoint.split("\n")[1]).toBe(String(head))

      expect(await outside(file, key)).toMatchObject({ code: 0, stdout: expect.stringMatching(new RegExp(`^valid 8 events, checkpoint \\S+ size ${head} `)) })
      expect(await runCli(["log", "verify-bundle", file, "--key", key])).toMatchObject({ code: 0, stdout: expect.stringContaining("valid: 8 events") })

      // an edited event: its hash no longer matches
      const edited = read(file)
      edited.entries[2].event.data.name = "forged"
      writeFileSync(join(work, "edited.json"), JSON.stringify(edited))
      expect(await outside(join(work, "edited.json"), key)).toMatchObject({ code: 1, stdout: expect.stringContaining("event seq 5: hash does not match its contents") })
      expect(await runCli(["log", "verify-bundle", join(work, "edited.json"), "--key", key])).toMatchObject({
        code: 1,
        stdout: expect.stringContaining("event seq 5: its hash does not match its contents")
      })

      // the edit with its hash recomputed: the proof no longer leads to the signed root, and the next event no longer links
      const rehashed = read(file)
      const e = rehashed.entries[2].event
      e.data.name = "forged"
      e.hash = Chain.hashOfValues(e, e.data, e.meta, e.prev_hash)
      writeFileSync(join(work, "rehashed.json"), JSON.stringify(rehashed))
      const rehashedOut = await outside(join(work, "rehashed.json"), key)
      expect(rehashedOut.code).toBe(1)
      expect(rehashedOut.stdout).toContain("event seq 5: inclusion proof does not lead to the checkpoint's root")
      expect(rehashedOut.stdout).toContain("event seq 6: prev_hash does not link to event 5")
      expect(rehashedOut.stdout).not.toContain("event seq 4")

      // a changed proof
      const changed = read(file)
      const path = changed.entries[4].inclusion_proof as Array<string>
      path[1] = path[1]!.replace(/^./, (c) => (c === "0" ? "1" : "0"))
      writeFileSync(join(work, "changed.json"), JSON.stringify(changed))
      expect(await outside(join(work, "changed.json"), key)).toMatchObject({
        code: 1,
        stdout: expect.stringMatching(/^INVALID\nevent seq 7: inclusion proof does not lead to the checkpoint's root \(tree size \d+\)\n$/)
      })

      // the same checkpoint re-signed with another key (origin and key both replaced): self-consistent, but not the log's key
      const { privateKey } = generateKeyPairSync("ed25519")
      const raw = Checkpoint.rawPublicKey(privateKey)
      const name = SigningKey.defaultOrigin(raw)
      const resigned = read(file)
      const body = resigned.checkpoint.slice(0, resigned.checkpoint.indexOf("\n\n") + 1).split("\n")
      body[0] = name
      resigned.checkpoint = Checkpoint.signNote(body.join("\n"), name, privateKey, raw)
      resigned.public_key = { name, verifier_key: Checkpoint.verifierKey(name, raw), algorithm: "ed25519", public_key: raw.toString("base64") }
      writeFileSync(join(work, "resigned.json"), JSON.stringify(resigned))
      expect(await outside(join(work, "resigned.json"), key)).toMatchObject({
        code: 1,
        stdout: expect.stringContaining(`the checkpoint does not verify with key ${key}: no signature by`)
      })
      expect(await runCli(["log", "verify-bundle", join(work, "resigned.json"), "--key", key])).toMatchObject({
        code: 1,
        stdout: expect.stringContaining(`the checkpoint does not verify with key ${key}`)
      })
      // without a pinned key it is only self-consistent, and the verifier says whose key it used
      expect(await outside(join(work, "resigned.json"))).toMatchObject({ code: 0, stdout: expect.stringContaining("(the bundle's own)") })

      // `log prove` answers what the API answers
      const proved = await runCli(["log", "prove", "--data-dir", s.dataDir, "--seq", "4", "--tree-size", "9"])
      expect(proved.code).toBe(0)
      expect(JSON.parse(proved.stdout)).toEqual((await s.json("/api/log/proof/inclusion?seq=4&tree_size=9")).body)
      expect(await runCli(["log", "prove", "--data-dir", s.dataDir, "--seq", "4", "--tree-size", String(head + 5)])).toMatchObject({
        code: 1,
        stderr: expect.stringContaining("beyond the log's head")
      })
      expect(await runCli(["log", "bundle", "--data-dir", s.dataDir, "--from", "5", "--to", "2", "--out", join(work, "x.json")])).toMatchObject({
        code: 1,
        stderr: expect.stringContaining("is not a range of seqs")
      })
    } finally {
      await s.stop()
      rmSync(s.dataDir, { recursive: true, force: true })
      rmSync(work, { recursive: true, force: true })
    }
  }, 120_000)

  it("proofs of random seqs in trees of random sizes, from the server's API, are checked by the independent verifier", async () => {
    const s = await startServer()
    const work = tempDir()
    try {
      await addSkills(s, 60, "many")
      const head = (await s.json("/api/status")).body.components.state_store.head_seq as number
      const key = SigningKey.loadSigningKey(join(s.dataDir, "log-signing.key"), { create: false })
      const random = lcg(14)
      for (let round = 0; round < 8; round++) {
        const size = 1 + Math.floor(random() * head)
        const seqs = [...new Set(Array.from({ length: 5 }, () => 1 + Math.floor(random() * size)))].sort((a, b) => a - b)
        // the checkpoint the server would sign at that size: its root, from a consistency proof
        const root = (await s.json(`/api/log/proof/consistency?first=${size}&second=${head}`)).body.first_root as string
        const note = Checkpoint.signNote(Checkpoint.checkpointBody({ origin: key.name, size, root }), key.name, key.privateKey, key.publicKey)
        const events = rows(s.dataDir, seqs)
        const entries = []
        for (const event of events) {
          const proof = (await s.json(`/api/log/proof/inclusion?seq=${event.seq}&tree_size=${size}`)).body
          expect(proof.root).toBe(root)
          entries.push({ event, inclusion_proof: proof.hashes })
        }
        const bundle = { format: "annal-log-bundle/1", public_key: (await s.json("/api/log/public-key")).body, checkpoint: note, entries }
        const file = join(work, `round-${round}.json`)
        writeFileSync(file, JSON.stringify(bundle))
        const checked = await outside(file, key.verifierKey)
        expect(checked, `size ${size}, seqs ${seqs.join(",")}`).toMatchObject({ code: 0, stdout: expect.stringContaining(`valid ${seqs.length} events, checkpoint ${key.name} size ${size} `) })
        // a proof for one size does not pass for another
        if (size < head) {
          const other = { ...bundle, checkpoint: Checkpoint.signNote(Checkpoint.checkpointBody({ origin: key.name, size: size + 1, root: (await s.json(`/api/log/proof/consistency?first=${size + 1}&second=${head}`)).body.first_root }), key.name, key.privateKey, key.publicKey) }
          writeFileSync(file, JSON.stringify(other))
          const wrong = await outside(file, key.verifierKey)
          expect(wrong.code).toBe(1)
          expect(wrong.stdout).toContain("inclusion proof does not lead to the checkpoint's root")
        }
      }
    } finally {
      await s.stop()
      rmSync(s.dataDir, { recursive: true, force: true })
      rmSync(work, { recursive: true, force: true })
    }
  }, 120_000)

  it("a server whose signing key was replaced cannot produce a bundle that verifies against the published key", async () => {
    const first = await startServer()
    const dir = first.dataDir
    const work = tempDir()
    try {
      await addSkills(first, 3, "k")
      const published = (await first.json("/api/log/public-key")).body.verifier_key as string
      expect(await first.stop()).toBe(0)
      rmSync(join(dir, "log-signing.key"))
      // the start refuses: its checkpoint no longer verifies with the key it finds
      // in this process: what `annal serve` prints of a refused start is log.test.ts's
      await expect(startServer({ dataDir: dir })).rejects.toThrow(/does not verify with key/)
      const accepted = await startServer({ dataDir: dir, args: ["--accept-log-rollback"] })
      try {
        const file = join(work, "bundle.json")
        expect((await runCli(["log", "bundle", "--data-dir", dir, "--from", "1", "--to", "3", "--out", file])).code).toBe(0)
        expect(read(file).public_key.verifier_key).not.toBe(published)
        expect(await outside(file, published)).toMatchObject({ code: 1, stdout: expect.stringContaining(`the checkpoint does not verify with key ${published}`) })
        expect(await runCli(["log", "verify-bundle", file, "--key", published])).toMatchObject({ code: 1 })
      } finally {
        await accepted.stop()
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
      rmSync(work, { recursive: true, force: true })
    }
  }, 120_000)
})
