/**
 * UUID v7 (RFC 9562): 48 bits of Unix milliseconds, then a 12-bit counter that orders the ids of
 * one millisecond, then 62 random bits. Ids made in this process sort by creation. The random
 * bytes come from a pool refilled 4 KiB at a time: one `randomFillSync` per 400 ids, where the
 * `uuid` package's v7 asks the system for 16 bytes per id (several µs each on the append path).
 */
import { randomFillSync } from "node:crypto"

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"))
const pool = new Uint8Array(4096)
let offset = pool.length

/** The offset of `n` fresh random bytes in `pool`. */
const take = (n: number) => {
  if (offset + n > pool.length) {
    randomFillSync(pool)
    offset = 0
  }
  const at = offset
  offset += n
  return at
}

let lastMs = -1
let counter = 0

/** A counter start for a new millisecond: random, below 2^11, so it has room to count up. */
const seed = () => {
  const at = take(2)
  return ((pool[at]! << 8) | pool[at + 1]!) & 0x7ff
}

/** A new UUID v7, e.g. `01937f2c-8a4e-7b3d-9c1f-2e5a6b7c8d9e`. */
export const uuidv7 = (): string => {
  const now = Date.now()
  if (now > lastMs) {
    lastMs = now
    counter = seed()
  } else if (++counter > 0xfff) {
    // 4096 ids in one millisecond (or the clock went back): borrow the next millisecond
    lastMs++
    counter = seed()
  }
  const ms = lastMs
  const high = Math.floor(ms / 0x10000)
  const r = take(8)
  return (
    HEX[(high >>> 24) & 0xff]! + HEX[(high >>> 16) & 0xff]! + HEX[(high >>> 8) & 0xff]! + HEX[high & 0xff]! + "-" +
    HEX[(ms >>> 8) & 0xff]! + HEX[ms & 0xff]! + "-" +
    HEX[0x70 | (counter >>> 8)]! + HEX[counter & 0xff]! + "-" +
    HEX[0x80 | (pool[r]! & 0x3f)]! + HEX[pool[r + 1]!]! + "-" +
    HEX[pool[r + 2]!]! + HEX[pool[r + 3]!]! + HEX[pool[r + 4]!]! + HEX[pool[r + 5]!]! + HEX[pool[r + 6]!]! + HEX[pool[r + 7]!]!
  )
}
