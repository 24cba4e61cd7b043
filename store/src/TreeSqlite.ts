/**
 * The Merkle tree of the SQLite log, kept on append in the same transaction as the events.
 *
 * Stored: every complete subtree of 2 or more leaves, `merkle_nodes(level, idx, hash)` with
 * level ≥ 1 (the subtree of leaves [idx·2^level, (idx+1)·2^level)), and the number of leaves
 * the table covers, `merkle_state.size`. Leaves (level 0) are not stored twice: a leaf is
 * SHA-256(0x00 ‖ the event's chain hash), read from `events`. Complete subtrees never change, so
 * any proof for any tree size up to the head is O(log n) point reads, never a rehash.
 */
import type Database from "better-sqlite3"
import { Effect } from "effect"
import { EventStoreError, type LogTree, TreeRangeError } from "./EventStore.js"
import {
  appendLeaf,
  consistencyProof,
  emptyFrontier,
  eventLeafHash,
  type Frontier,
  frontierAt,
  frontierRoot,
  inclusionProof,
  subtreeFrom
} from "./MerkleTree.js"

/** Migration 0002_merkle_tree. */
export const TREE_DDL = [
  `CREATE TABLE merkle_nodes (
    level INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    hash BLOB NOT NULL,
    PRIMARY KEY (level, idx)
  ) WITHOUT ROWID`,
  `CREATE TABLE merkle_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    size INTEGER NOT NULL
  )`
]

/** A range the tree cannot answer for (a size beyond the head, a leaf beyond the size). */
export class TreeRange extends Error {}

export interface StoredTree {
  /** Adds an event's chain hash as the next leaf, inside the open transaction. */
  readonly add: (chainHashHex: string) => void
  /** The uncommitted tree, to go back to when a savepoint rolls back. */
  readonly mark: () => Frontier
  readonly resetTo: (frontier: Frontier) => void
  /** Starts a transaction's work from the committed tree. */
  readonly begin: () => void
  /** Records the tree's size; runs inside the transaction, just before COMMIT. */
  readonly flush: () => void
  /** The transaction committed: its tree is the tree now. */
  readonly committed: () => void
  /** Leaves the table covers now (read from the database, so it is fresh in a reader process too). */
  readonly size: () => number
  /** The committed frontier (its root is the head's root). */
  readonly frontier: () => Frontier
  readonly root: (size: number) => Buffer
  readonly inclusion: (index: number, size: number) => { readonly leaf: Buffer; readonly path: Array<Buffer> }
  readonly consistency: (first: number, second: number) => Array<Buffer>
  /** The tree size `merkle_state` held when the store opened, before any repair (undefined: no tree yet). */
  readonly recordedSize: number | undefined
}

/** Opens the tree of `db`'s log, building or extending it from the chain hashes when it lags. */
export const openTree = (db: Database.Database): StoredTree => {
  const stmt = {
    node: db.prepare("SELECT hash FROM merkle_nodes WHERE level = ? AND idx = ?").pluck(),
    leaf: db.prepare("SELECT hash FROM events WHERE seq = ?").pluck(),
    put: db.prepare("INSERT OR REPLACE INTO merkle_nodes (level, idx, hash) VALUES (?, ?, ?)"),
    size: db.prepare("SELECT size FROM merkle_state WHERE id = 1").pluck(),
    setSize: db.prepare("INSERT INTO merkle_state (id, size) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET size = excluded.size"),
    head: db.prepare("SELECT COALESCE(MAX(seq), 0) FROM events").pluck(),
    clear: db.prepare("DELETE FROM merkle_nodes"),
    hashes: db.prepare("SELECT seq, hash FROM events WHERE seq > ? ORDER BY seq LIMIT ?")
  }
  const complete = (level: number, index: number): Buffer => {
    if (level === 0) {
      const hash = stmt.leaf.get(index + 1) as string | undefined
      if (hash === undefined) throw new TreeRange(`event ${index + 1} is missing from the log`)
      return eventLeafHash(hash)
    }
    const hash = stmt.node.get(level, index) as Buffer | undefined
    if (hash === undefined) throw new TreeRange(`the tree has no node at level ${level}, index ${index}`)
    return hash
  }
  const mth = subtreeFrom(complete)
  const put = (level: number, index: number, hash: Buffer) => {
    stmt.put.run(level, index, hash)
  }

  /** Adds the log's leaves after `from` (whose size it has) up to the head: the tree of an older log, built once. */
  const extend = (from: Frontier): Frontier => {
    let frontier = from
    while (true) {
      const rows = stmt.hashes.all(frontier.size, 10_000) as Array<{ seq: number; hash: string }>
      for (const row of rows) {
        if (row.seq !== frontier.size + 1) throw new TreeRange(`event ${frontier.size + 1} is missing from the log`)
        frontier = appendLeaf(frontier, eventLeafHash(row.hash), put)
      }
      if (rows.length < 10_000) return frontier
    }
  }

  // A consistent read first; the write lock only when the tree lags the log.
  const look = db.transaction(() => ({ recorded: stmt.size.get() as number | undefined, head: stmt.head.get() as number }))
  const seen = look()
  // The tree's edge at the log's head; a tree longer than the log (its tail was cut) counts only
  // as far as the log goes. A tree with nodes missing is built again from the chain hashes.
  const fromStored = (recorded: number | undefined, head: number): Frontier | undefined => {
    try {
      return recorded !== undefined && recorded >= head ? frontierAt(head, complete) : undefined
    } catch (e) {
      if (e instanceof TreeRange) return undefined
      throw e
    }
  }
  let committedTree = fromStored(seen.recorded, seen.head) ?? db.transaction(() => {
    const recorded = stmt.size.get() as number | undefined
    const head = stmt.head.get() as number
    const stored = fromStored(recorded, head)
    if (stored !== undefined) return stored
    let start: Frontier = emptyFrontier
    if (recorded !== undefined && recorded < head) {
      try {
        start = frontierAt(recorded, complete)
      } catch (e) {
        if (!(e instanceof TreeRange)) throw e
      }
    }
    if (start.size === 0) stmt.clear.run()
    const built = extend(start)
    stmt.setSize.run(built.size)
    return built
  }).immediate()
  let pending = committedTree

  return {
    add: (chainHashHex) => {
      pending = appendLeaf(pending, eventLeafHash(chainHashHex), put)
    },
    mark: () => pending,
    resetTo: (frontier) => {
      pending = frontier
    },
    begin: () => {
      pending = committedTree
    },
    flush: () => {
      if (pending.size !== committedTree.size) stmt.setSize.run(pending.size)
    },
    committed: () => {
      committedTree = pending
    },
    // another process may have appended since (a reader's view); never more than the log holds
    size: () => Math.min(Math.max(committedTree.size, (stmt.size.get() as number | undefined) ?? 0), stmt.head.get() as number),
    frontier: () => committedTree,
    root: (size) => (size === committedTree.size ? frontierRoot(committedTree) : mth(0, size)),
    inclusion: (index, size) => ({ leaf: complete(0, index), path: inclusionProof(index, size, mth) }),
    consistency: (first, second) => consistencyProof(first, second, mth),
    recordedSize: seen.recorded
  }
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex")

const isCount = (n: number) => Number.isSafeInteger(n) && n >= 0

/** The LogTree over a stored tree: ranges checked, hashes in hex, synchronous reads between appends. */
export const makeLogTree = (tree: StoredTree): LogTree => {
  const run = <A>(f: () => A): Effect.Effect<A, TreeRangeError | EventStoreError> =>
    Effect.try({
      try: f,
      catch: (e) =>
        e instanceof TreeRangeError
          ? e
          : e instanceof TreeRange
          ? new EventStoreError({ reason: `the log's Merkle tree is damaged: ${e.message}`, cause: e })
          : new EventStoreError({ reason: "could not read the log's Merkle tree", cause: e })
    })
  const sizeAtMost = (size: number, what: string) => {
    if (!isCount(size)) throw new TreeRangeError({ reason: `${what} must be a whole number ≥ 0` })
    const head = tree.size()
    if (size > head) throw new TreeRangeError({ reason: `${what} ${size} is beyond the log's head (${head} events)` })
  }
  return {
    head: Effect.mapError(run(() => {
      const size = tree.size()
      return { size, root: hex(tree.root(size)) }
    }), (e) => (e instanceof TreeRangeError ? new EventStoreError({ reason: e.reason }) : e)),
    root: (size) =>
      run(() => {
        sizeAtMost(size, "tree size")
        return hex(tree.root(size))
      }),
    inclusion: (seq, treeSize) =>
      run(() => {
        sizeAtMost(treeSize, "tree_size")
        if (!Number.isSafeInteger(seq) || seq < 1 || seq > treeSize) {
          throw new TreeRangeError({ reason: `seq must be between 1 and tree_size (${treeSize}), not ${seq}` })
        }
        const { leaf, path } = tree.inclusion(seq - 1, treeSize)
        return { seq, leaf_index: seq - 1, tree_size: treeSize, leaf_hash: hex(leaf), hashes: path.map(hex), root: hex(tree.root(treeSize)) }
      }),
    consistency: (first, second) =>
      run(() => {
        sizeAtMost(second, "second")
        if (!isCount(first) || first > second) throw new TreeRangeError({ reason: `first must be between 0 and second (${second}), not ${first}` })
        return {
          first,
          second,
          first_root: hex(tree.root(first)),
          second_root: hex(tree.root(second)),
          hashes: tree.consistency(first, second).map(hex)
        }
      }),
    recordedSize: tree.recordedSize
  }
}
