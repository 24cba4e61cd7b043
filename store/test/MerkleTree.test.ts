import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Effect, Layer } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { EventStore, EventStoreSqlite, IdGenerator, MerkleTree, Projector } from "../src/index.js"

const { leafHash, nodeHash, splitPoint } = MerkleTree

/** MTH written straight from RFC 9162 §2.1.1, over leaf hashes: the reference the store is checked against. */
const naiveRoot = (leaves: ReadonlyArray<Buffer>): Buffer => {
  if (leaves.length === 0) return MerkleTree.EMPTY_ROOT
  if (leaves.length === 1) return leaves[0]!
  const k = splitPoint(leaves.length)
  return nodeHash(naiveRoot(leaves.slice(0, k)), naiveRoot(leaves.slice(k)))
}
const naiveMth = (leaves: ReadonlyArray<Buffer>): MerkleTree.SubtreeHash => (start, size) => naiveRoot(leaves.slice(start, start + size))

// The RFC 6962 reference leaves and roots (as in certificate-transparency's test data).
const RFC_LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
const RFC_ROOTS = [
  "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
  "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
  "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
  "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
  "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
  "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
  "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
  "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
]

describe("MerkleTree (RFC 9162)", () => {
  it("gives the RFC 6962 reference roots, incrementally and from scratch", () => {
    const leaves = RFC_LEAVES.map((h) => leafHash(Buffer.from(h, "hex")))
    let frontier = MerkleTree.emptyFrontier
    leaves.forEach((leaf, i) => {
      frontier = MerkleTree.appendLeaf(frontier, leaf)
      expect(MerkleTree.frontierRoot(frontier).toString("hex")).toBe(RFC_ROOTS[i])
      expect(naiveRoot(leaves.slice(0, i + 1)).toString("hex")).toBe(RFC_ROOTS[i])
    })
    expect(MerkleTree.frontierRoot(MerkleTree.emptyFrontier).toString("hex")).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
  })

  it("proves and verifies every leaf in every tree up to 40 leaves, and refuses altered proofs", () => {
    const leaves = Array.from({ length: 40 }, (_, i) => leafHash(Buffer.from(`leaf ${i}`)))
    const mth = naiveMth(leaves)
    for (let size = 1; size <= leaves.length; size++) {
      const root = naiveRoot(leaves.slice(0, size))
      for (let index = 0; index < size; index++) {
        const proof = MerkleTree.inclusionProof(index, size, mth)
        expect(MerkleTree.verifyInclusion(index, size, leaves[index]!, proof, root)).toBe(true)
        expect(MerkleTree.verifyInclusion(index, size, leaves[(index + 1) % size]!, proof, root)).toBe(size === 1)
        if (proof.length > 0) {
          const bent = proof.map((p, i) => (i === proof.length - 1 ? nodeHash(p, p) : p))
          expect(MerkleTree.verifyInclusion(index, size, leaves[index]!, bent, root)).toBe(false)
        }
      }
    }
  })

  it("proves and verifies consistency between every pair of sizes up to 40", () => {
    const leaves = Array.from({ length: 40 }, (_, i) => leafHash(Buffer.from(`leaf ${i}`)))
    const mth = naiveMth(leaves)
    for (let second = 1; second <= leaves.length; second++) {
      const secondRoot = naiveRoot(leaves.slice(0, second))
      for (let first = 1; first <= second; first++) {
        const firstRoot = naiveRoot(leaves.slice(0, first))
        const proof = MerkleTree.consistencyProof(first, second, mth)
        expect(MerkleTree.verifyConsistency(first, second, proof, firstRoot, secondRoot)).toBe(true)
        // a different older tree (one leaf changed) is not consistent with it
        const other = naiveRoot([...leaves.slice(0, first - 1), leafHash(Buffer.from("forged"))])
        expect(MerkleTree.verifyConsistency(first, second, proof, other, secondRoot)).toBe(false)
      }
    }
  })
})

const tempDb = () => join(mkdtempSync(join(tmpdir(), "annal-tree-")), "annal.db")
const storeLayer = (filename: string) => EventStoreSqlite.layer({ filename, synchronous: "OFF" }).pipe(Layer.provide(Layer.merge(Projector.none, IdGenerator.layer)))
const withStore = <A, E>(filename: string, f: (store: EventStore["Type"]) => Effect.Effect<A, E>) =>
  Effect.flatMap(EventStore, f).pipe(Effect.provide(storeLayer(filename)), Effect.scoped)

const chainLeaves = (filename: string): Array<Buffer> => {
  const db = new Database(filename, { readonly: true })
  try {
    return (db.prepare("SELECT hash FROM events ORDER BY seq").pluck().all() as Array<string>).map(MerkleTree.eventLeafHash)
  } finally {
    db.close()
  }
}

/** A small deterministic generator, so a failing case can be run again. */
const random = (seed: number) => () => {
  seed = (seed * 1103515245 + 12345) % 2147483648
  return seed / 2147483648
}

describe("the log's Merkle tree (SQLite)", () => {
  it.effect("is kept on append, in the same transaction: a batch with a failed append leaves the tree equal to a rehash of the log", () => {
    const filename = tempDb()
    return withStore(filename, (store) =>
      Effect.gen(function*() {
        // concurrent appends are batched; one of them conflicts and is rolled back alone
        for (let round = 0; round < 20; round++) {
          const waits = yield* Effect.forEach(Array.from({ length: 7 }, (_, i) => i), (i) =>
            store.enqueue({ stream: i === 3 ? "fixed" : `s-${round}-${i}`, expectedVersion: i === 3 ? 0 : "any", events: [{ type: "thing_happened", data: { round, i } }, { type: "thing_happened", data: { again: true } }], actor: "system" }))
          yield* Effect.forEach(waits, (w) => Effect.either(w))
        }
        const head = yield* store.head
        const tree = yield* store.tree.head
        const leaves = chainLeaves(filename)
        expect(tree.size).toBe(head.seq)
        expect(leaves.length).toBe(head.seq)
        expect(tree.root).toBe(naiveRoot(leaves).toString("hex"))
        const next = random(7)
        for (let i = 0; i < 200; i++) {
          const size = 1 + Math.floor(next() * head.seq)
          const seq = 1 + Math.floor(next() * size)
          const proof = yield* store.tree.inclusion(seq, size)
          const root = naiveRoot(leaves.slice(0, size))
          expect(proof.root).toBe(root.toString("hex"))
          expect(proof.leaf_hash).toBe(leaves[seq - 1]!.toString("hex"))
          expect(MerkleTree.verifyInclusion(seq - 1, size, leaves[seq - 1]!, proof.hashes.map((h) => Buffer.from(h, "hex")), root)).toBe(true)
          const first = Math.floor(next() * size)
          const consistency = yield* store.tree.consistency(first, size)
          expect(MerkleTree.verifyConsistency(first, size, consistency.hashes.map((h) => Buffer.from(h, "hex")), naiveRoot(leaves.slice(0, first)), root)).toBe(true)
        }
      })
    ).pipe(Effect.ensuring(Effect.sync(() => rmSync(dirname(filename), { recursive: true, force: true }))))
  })

  it.effect("is built from the chain hashes when a log has none (an older log), once, with the same root", () => {
    const filename = tempDb()
    return Effect.gen(function*() {
      const before = yield* withStore(filename, (store) =>
        Effect.gen(function*() {
          for (let i = 0; i < 37; i++) yield* store.append({ stream: `s-${i}`, expectedVersion: 0, events: [{ type: "thing_happened", data: { i } }], actor: "system" })
          return yield* store.tree.head
        }))
      const db = new Database(filename)
      db.exec("DELETE FROM merkle_nodes; DELETE FROM merkle_state")
      db.close()
      const after = yield* withStore(filename, (store) =>
        Effect.gen(function*() {
          expect(store.tree.recordedSize).toBeUndefined()
          yield* store.append({ stream: "later", expectedVersion: 0, events: [{ type: "thing_happened", data: {} }], actor: "system" })
          return { rebuilt: yield* store.tree.root(37), head: yield* store.tree.head }
        }))
      expect(after.rebuilt).toBe(before.root)
      expect(after.head.size).toBe(38)
      expect(after.head.root).toBe(naiveRoot(chainLeaves(filename)).toString("hex"))
      const reopened = yield* withStore(filename, (store) => Effect.succeed(store.tree.recordedSize))
      expect(reopened).toBe(38)
    }).pipe(Effect.ensuring(Effect.sync(() => rmSync(dirname(filename), { recursive: true, force: true }))))
  })

  it.effect("refuses sizes beyond the head and leaves outside the tree with a typed error", () => {
    const filename = tempDb()
    return withStore(filename, (store) =>
      Effect.gen(function*() {
        yield* store.append({ stream: "a", expectedVersion: 0, events: [{ type: "thing_happened", data: {} }], actor: "system" })
        const beyond = yield* Effect.flip(store.tree.inclusion(1, 2))
        expect(beyond).toMatchObject({ _tag: "TreeRangeError", reason: "tree_size 2 is beyond the log's head (1 events)" })
        expect((yield* Effect.flip(store.tree.inclusion(2, 1)))._tag).toBe("TreeRangeError")
        expect((yield* Effect.flip(store.tree.inclusion(0, 1)))._tag).toBe("TreeRangeError")
        expect((yield* Effect.flip(store.tree.consistency(1, 5)))._tag).toBe("TreeRangeError")
        expect((yield* Effect.flip(store.tree.consistency(2, 1)))._tag).toBe("TreeRangeError")
        expect((yield* store.tree.consistency(0, 1)).hashes).toEqual([])
      })
    ).pipe(Effect.ensuring(Effect.sync(() => rmSync(dirname(filename), { recursive: true, force: true }))))
  })
})
