/**
 * The RFC 9162 (RFC 6962) Merkle tree over the log, as pure functions: hashes, proofs built
 * from any source of subtree hashes, proof verification, and the tree's right edge (the
 * "frontier") that lets leaves be added one at a time. docs/event-log.md specifies it.
 *
 * Sizes and indices are JavaScript numbers, exact up to 2^53; shifts are written as division
 * because `>>` works on 32 bits.
 */
import { createHash } from "node:crypto"

const LEAF_PREFIX = Buffer.from([0x00])
const NODE_PREFIX = Buffer.from([0x01])

/** MTH({}) = SHA-256 of nothing. */
export const EMPTY_ROOT: Buffer = createHash("sha256").digest()

/** SHA-256(0x00 ‖ leaf). */
export const leafHash = (leaf: Uint8Array): Buffer => createHash("sha256").update(LEAF_PREFIX).update(leaf).digest()

/** SHA-256(0x01 ‖ left ‖ right). */
export const nodeHash = (left: Uint8Array, right: Uint8Array): Buffer =>
  createHash("sha256").update(NODE_PREFIX).update(left).update(right).digest()

/** The leaf hash of an event: its 32-byte chain hash (raw bytes of the hex `hash` column) is the leaf. */
export const eventLeafHash = (chainHashHex: string): Buffer => leafHash(Buffer.from(chainHashHex, "hex"))

/** The largest power of two strictly less than n (n ≥ 2). */
export const splitPoint = (n: number): number => {
  let k = 1
  while (k * 2 < n) k *= 2
  return k
}

const isPowerOfTwo = (n: number) => n > 0 && splitPoint(n + 1) === n

/** log2 of a power of two. */
export const levelOf = (size: number): number => Math.round(Math.log2(size))

/** The hash of the subtree of `size` leaves starting at leaf `start` (an RFC 9162 MTH). */
export type SubtreeHash = (start: number, size: number) => Buffer

/**
 * A SubtreeHash from a source of complete subtrees: `complete(level, index)` is the hash of
 * leaves [index·2^level, (index+1)·2^level). A subtree that is not complete is split as RFC
 * 9162 splits it, so it costs one read per complete subtree it is made of (O(log n)).
 */
export const subtreeFrom = (complete: (level: number, index: number) => Buffer): SubtreeHash => {
  const mth: SubtreeHash = (start, size) => {
    if (size === 0) return EMPTY_ROOT
    if (isPowerOfTwo(size) && start % size === 0) return complete(levelOf(size), start / size)
    const k = splitPoint(size)
    return nodeHash(mth(start, k), mth(start + k, size - k))
  }
  return mth
}

/** RFC 9162 §2.1.3.1 PATH(index, D[size]): the inclusion proof of leaf `index`, deepest hash first. */
export const inclusionProof = (index: number, size: number, mth: SubtreeHash): Array<Buffer> => {
  const path = (m: number, start: number, n: number): Array<Buffer> => {
    if (n <= 1) return []
    const k = splitPoint(n)
    return m < k
      ? [...path(m, start, k), mth(start + k, n - k)]
      : [...path(m - k, start + k, n - k), mth(start, k)]
  }
  return path(index, 0, size)
}

/** RFC 9162 §2.1.4.1 PROOF(first, D[second]): the consistency proof between two sizes. */
export const consistencyProof = (first: number, second: number, mth: SubtreeHash): Array<Buffer> => {
  if (first === 0 || first === second) return []
  const subproof = (m: number, start: number, n: number, whole: boolean): Array<Buffer> => {
    if (m === n) return whole ? [] : [mth(start, n)]
    const k = splitPoint(n)
    return m <= k
      ? [...subproof(m, start, k, whole), mth(start + k, n - k)]
      : [...subproof(m - k, start + k, n - k, false), mth(start, k)]
  }
  return subproof(first, 0, second, true)
}

const odd = (n: number) => n % 2 === 1
const half = (n: number) => Math.floor(n / 2)

/** RFC 9162 §2.1.3.2: does `proof` show the leaf hash at `index` in the tree of `size` with `root`? */
export const verifyInclusion = (index: number, size: number, leaf: Uint8Array, proof: ReadonlyArray<Uint8Array>, root: Uint8Array): boolean => {
  if (index >= size || index < 0) return false
  let fn = index
  let sn = size - 1
  let r: Uint8Array = leaf
  for (const p of proof) {
    if (sn === 0) return false
    if (odd(fn) || fn === sn) {
      r = nodeHash(p, r)
      if (!odd(fn)) {
        while (!odd(fn) && fn !== 0) {
          fn = half(fn)
          sn = half(sn)
        }
      }
    } else {
      r = nodeHash(r, p)
    }
    fn = half(fn)
    sn = half(sn)
  }
  return sn === 0 && Buffer.from(r).equals(root)
}

/** RFC 9162 §2.1.4.2: does `proof` show that the tree of `second` leaves extends the tree of `first`? */
export const verifyConsistency = (
  first: number,
  second: number,
  proof: ReadonlyArray<Uint8Array>,
  firstRoot: Uint8Array,
  secondRoot: Uint8Array
): boolean => {
  if (first > second || first < 0) return false
  if (first === second) return proof.length === 0 && Buffer.from(firstRoot).equals(secondRoot)
  if (first === 0) return proof.length === 0
  if (proof.length === 0) return false
  const path = isPowerOfTwo(first) ? [firstRoot, ...proof] : [...proof]
  let fn = first - 1
  let sn = second - 1
  while (odd(fn)) {
    fn = half(fn)
    sn = half(sn)
  }
  let fr: Uint8Array = path[0]!
  let sr: Uint8Array = path[0]!
  for (const c of path.slice(1)) {
    if (sn === 0) return false
    if (odd(fn) || fn === sn) {
      fr = nodeHash(c, fr)
      sr = nodeHash(c, sr)
      if (!odd(fn)) {
        while (!odd(fn) && fn !== 0) {
          fn = half(fn)
          sn = half(sn)
        }
      }
    } else {
      sr = nodeHash(sr, c)
    }
    fn = half(fn)
    sn = half(sn)
  }
  return sn === 0 && Buffer.from(fr).equals(firstRoot) && Buffer.from(sr).equals(secondRoot)
}

/**
 * The right edge of a tree: for every set bit `level` of `size`, the hash of the complete
 * subtree of 2^level leaves there. It is all a tree needs to add a leaf or give its root.
 */
export interface Frontier {
  readonly size: number
  /** nodes[level], present where bit `level` of size is set. */
  readonly nodes: ReadonlyArray<Buffer | undefined>
}

export const emptyFrontier: Frontier = { size: 0, nodes: [] }

/**
 * Adds a leaf hash; `onComplete(level, index, hash)` is called for every complete subtree of
 * level ≥ 1 the leaf completes, lowest first (what a store keeps).
 */
export const appendLeaf = (
  frontier: Frontier,
  leaf: Buffer,
  onComplete?: (level: number, index: number, hash: Buffer) => void
): Frontier => {
  const nodes = frontier.nodes.slice()
  let hash = leaf
  let level = 0
  let index = frontier.size
  while (odd(index)) {
    hash = nodeHash(nodes[level]!, hash)
    nodes[level] = undefined
    level++
    index = half(index)
    onComplete?.(level, index, hash)
  }
  nodes[level] = hash
  return { size: frontier.size + 1, nodes }
}

/** MTH of the whole tree: the frontier's subtrees folded from the smallest up. */
export const frontierRoot = (frontier: Frontier): Buffer => {
  let root: Buffer | undefined
  for (let level = 0; level < frontier.nodes.length; level++) {
    const node = frontier.nodes[level]
    if (node === undefined) continue
    root = root === undefined ? node : nodeHash(node, root)
  }
  return root ?? EMPTY_ROOT
}

/** The frontier of the first `size` leaves, read from a source of complete subtrees. */
export const frontierAt = (size: number, complete: (level: number, index: number) => Buffer): Frontier => {
  const nodes: Array<Buffer | undefined> = []
  let start = 0
  // largest subtree first, at the left
  for (let level = Math.floor(Math.log2(Math.max(size, 1))) + 1; level >= 0; level--) {
    const width = 2 ** level
    if (start + width <= size) {
      nodes[level] = complete(level, start / width)
      start += width
    }
  }
  return { size, nodes }
}

/** MTH of a list of leaf hashes, computed from scratch (the baseline proofs are measured against). */
export const rootOfLeaves = (leaves: ReadonlyArray<Buffer>): Buffer => {
  let frontier = emptyFrontier
  for (const leaf of leaves) frontier = appendLeaf(frontier, leaf)
  return frontierRoot(frontier)
}
