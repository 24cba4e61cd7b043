/**
 * Checks the log against the checkpoints signed earlier: a log shorter than a checkpoint, or
 * whose event at the checkpoint's size is not the leaf the checkpoint signed, was cut, rolled
 * back or rewritten. Then the chain is verified from the newest checkpoint on (or from seq 1,
 * with no checkpoint or when asked), and the tree after it is checked against the log.
 */
import { Chain, EventStore, type EventStoreError, MerkleTree, type StoredEvent } from "@annal/store"
import { Effect, Stream } from "effect"
import { existsSync, readFileSync } from "node:fs"
import { openCheckpoint, parseVerifierKey, type SignedCheckpoint } from "./Checkpoint.js"

/** Where a checkpoint was kept: the data directory's copy or the witness directory's. */
export interface CheckpointSource {
  readonly source: "data directory" | "witness"
  readonly path: string
  /** The verifier key the note must verify with. */
  readonly verifierKey: string
}

export interface CheckedCheckpoint {
  readonly source: CheckpointSource["source"]
  readonly path: string
  readonly size: number
  readonly root: string
}

/** What the check found. `problems` empty: the log is consistent with every checkpoint and its chain links. */
export interface LogCheckReport {
  readonly ok: boolean
  readonly problems: ReadonlyArray<string>
  readonly checkpoints: ReadonlyArray<CheckedCheckpoint>
  readonly head: { readonly seq: number; readonly hash: string }
  /** The chain was verified from this seq (1: the whole chain). */
  readonly verifiedFrom: number
  readonly verifiedEvents: number
  readonly chainBreak?: Chain.ChainBreak | undefined
}

const fromHex = (hex: string) => Buffer.from(hex, "hex")

/** Reads and verifies the checkpoint notes that exist; a note that does not verify is a problem. */
const readCheckpoints = (sources: ReadonlyArray<CheckpointSource>) => {
  const found: Array<{ readonly from: CheckpointSource; readonly checkpoint: SignedCheckpoint }> = []
  const problems: Array<string> = []
  for (const from of sources) {
    if (!existsSync(from.path)) continue
    const verifier = parseVerifierKey(from.verifierKey)
    if (typeof verifier === "string") {
      problems.push(`the ${from.source}'s public key is unusable: ${verifier}`)
      continue
    }
    const opened = openCheckpoint(readFileSync(from.path, "utf8"), verifier)
    if (typeof opened === "string") problems.push(`checkpoint ${from.path} (${from.source}) does not verify with key ${from.verifierKey}: ${opened}`)
    else found.push({ from, checkpoint: opened })
  }
  return { found, problems }
}

/**
 * Checks the log in `store` against the checkpoints of `sources`. `full` walks the whole chain
 * and rehashes the whole tree; otherwise only what follows the newest checkpoint is walked.
 */
export const checkLog = (sources: ReadonlyArray<CheckpointSource>, options: { readonly full: boolean }) =>
  Effect.gen(function*() {
    const store = yield* EventStore
    const head = yield* store.head
    const { found, problems } = readCheckpoints(sources)
    const headText = `the log's head is seq ${head.seq} (hash ${head.hash})`
    let from = 0
    let fromHash = Chain.GENESIS_HASH
    for (const { checkpoint, from: where } of found) {
      const named = `checkpoint ${where.path} (${where.source}: ${checkpoint.origin}, tree size ${checkpoint.size}, root ${checkpoint.root})`
      if (checkpoint.size > head.seq) {
        problems.push(`${named} signed ${checkpoint.size} events but ${headText}: the log was cut or rolled back`)
        continue
      }
      if (checkpoint.size === 0) continue
      const [event] = yield* store.read(checkpoint.size, checkpoint.size)
      const proof = yield* Effect.either(store.tree.inclusion(checkpoint.size, checkpoint.size))
      const included = event !== undefined && proof._tag === "Right" &&
        MerkleTree.verifyInclusion(
          checkpoint.size - 1,
          checkpoint.size,
          MerkleTree.eventLeafHash(event.hash),
          proof.right.hashes.map(fromHex),
          fromHex(checkpoint.root)
        )
      if (!included) {
        problems.push(`${named}: the log's event ${checkpoint.size} is not the one the checkpoint signed, so the log was rewritten at or before seq ${checkpoint.size}; ${headText}`)
        continue
      }
      if (checkpoint.size > from) {
        from = checkpoint.size
        fromHash = event!.hash
      }
    }

    // the chain after the newest good checkpoint (or all of it)
    const start = options.full ? 0 : from
    let prev = options.full ? Chain.GENESIS_HASH : fromHash
    let position = start
    let chainBreak: Chain.ChainBreak | undefined
    let frontier = MerkleTree.emptyFrontier
    yield* store.readAll(start, 5000).pipe(
      Stream.runForEachChunk((chunk) =>
        Effect.sync(() => {
          for (const event of chunk) {
            position++
            if (chainBreak !== undefined) continue
            chainBreak = checkEvent(event, position, prev)
            prev = event.hash
            if (options.full) frontier = MerkleTree.appendLeaf(frontier, MerkleTree.eventLeafHash(event.hash))
          }
        })
      )
    )
    if (chainBreak !== undefined) problems.push(`the hash chain is broken at seq ${chainBreak.broken_at_seq}: ${chainBreak.reason} (expected ${chainBreak.expected}, found ${chainBreak.found})`)

    // the tree after the checkpoint extends the signed one and ends in the log's head
    const tree = yield* store.tree.head
    if (chainBreak === undefined && tree.size !== head.seq) problems.push(`the Merkle tree holds ${tree.size} events but ${headText}`)
    else if (chainBreak === undefined && head.seq > 0) {
      const last = yield* Effect.either(store.tree.inclusion(head.seq, head.seq))
      const lastOk = last._tag === "Right" &&
        MerkleTree.verifyInclusion(head.seq - 1, head.seq, MerkleTree.eventLeafHash(head.hash), last.right.hashes.map(fromHex), fromHex(tree.root))
      let extendsSigned = true
      if (from > 0) {
        const signedRoot = found.find((f) => f.checkpoint.size === from)!.checkpoint.root
        const consistency = yield* Effect.either(store.tree.consistency(from, head.seq))
        extendsSigned = consistency._tag === "Right" &&
          MerkleTree.verifyConsistency(from, head.seq, consistency.right.hashes.map(fromHex), fromHex(signedRoot), fromHex(tree.root))
      }
      if (!lastOk || !extendsSigned) problems.push(`the Merkle tree's stored hashes do not match the log after seq ${from}; ${headText}`)
      if (options.full && MerkleTree.frontierRoot(frontier).toString("hex") !== tree.root) {
        problems.push(`the Merkle tree's root ${tree.root} is not the root of the log's ${head.seq} chain hashes (${MerkleTree.frontierRoot(frontier).toString("hex")})`)
      }
    }
    return {
      ok: problems.length === 0,
      problems,
      checkpoints: found.map(({ checkpoint, from: where }) => ({ source: where.source, path: where.path, size: checkpoint.size, root: checkpoint.root })),
      head,
      verifiedFrom: start + 1,
      verifiedEvents: position - start,
      chainBreak
    } satisfies LogCheckReport
  }) as Effect.Effect<LogCheckReport, EventStoreError, EventStore>

/** checkRow over a parsed event: the same check, on the values. */
const checkEvent = (event: StoredEvent, position: number, prev: string): Chain.ChainBreak | undefined =>
  Chain.checkRow({ ...event, data: JSON.stringify(event.data), meta: JSON.stringify(event.meta) }, position, prev)
