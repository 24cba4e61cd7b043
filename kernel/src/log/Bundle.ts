/**
 * A proof bundle: some events of the log, each with its RFC 9162 inclusion proof against one
 * signed checkpoint, the checkpoint and the public key, in one JSON file an outsider can check
 * offline. docs/event-log.md ("Proof bundles") specifies the format; `check` is Annal's own
 * check of it, and docs/verify_bundle.mjs an independent one written from that document.
 */
import { Chain, MerkleTree } from "@annal/store"
import { Either, Schema } from "effect"
import { Hex, LogEvent } from "@annal/spec"
import { openCheckpoint, parseVerifierKey } from "./Checkpoint.js"

export const BUNDLE_FORMAT = "annal-log-bundle/1"

/** An event as the JSONL export writes it: every column, `data` and `meta` parsed (the API's LogEvent). */
export const BundleEvent = LogEvent
export type BundleEvent = typeof BundleEvent.Type

export const Bundle = Schema.Struct({
  format: Schema.Literal(BUNDLE_FORMAT),
  public_key: Schema.Struct({ name: Schema.String, verifier_key: Schema.String, algorithm: Schema.Literal("ed25519"), public_key: Schema.String }),
  /** The signed note (C2SP tlog-checkpoint in a C2SP signed note). */
  checkpoint: Schema.String,
  entries: Schema.Array(Schema.Struct({ event: BundleEvent, inclusion_proof: Schema.Array(Hex) }))
})
export type Bundle = typeof Bundle.Type

export interface BundleReport {
  readonly ok: boolean
  /** Every check that failed, each naming what failed (the key, the checkpoint, an event's seq). */
  readonly problems: ReadonlyArray<string>
  readonly checkpoint?: { readonly origin: string; readonly size: number; readonly root: string } | undefined
  readonly events: number
  /** The key the checkpoint was checked with, and whether it came from outside the bundle. */
  readonly key: string
  readonly pinned: boolean
}

/**
 * Checks a bundle: the checkpoint's signature with `trustedKey` (a verifier key; default the
 * bundle's own, which proves only that the bundle is self-consistent), each event's chain hash
 * from its fields, each inclusion proof against the checkpoint's root, and that consecutive
 * events link.
 */
export const check = (input: unknown, trustedKey?: string): BundleReport => {
  const decoded = Schema.decodeUnknownEither(Bundle)(input)
  if (Either.isLeft(decoded)) {
    return { ok: false, problems: [`not an ${BUNDLE_FORMAT} bundle: ${decoded.left.message}`], events: 0, key: trustedKey ?? "", pinned: trustedKey !== undefined }
  }
  const bundle = decoded.right
  const key = trustedKey ?? bundle.public_key.verifier_key
  const base = { events: bundle.entries.length, key, pinned: trustedKey !== undefined }
  const verifier = parseVerifierKey(key)
  if (typeof verifier === "string") return { ok: false, problems: [`the key ${key} is unusable: ${verifier}`], ...base }
  const opened = openCheckpoint(bundle.checkpoint, verifier)
  if (typeof opened === "string") return { ok: false, problems: [`the checkpoint does not verify with key ${key}: ${opened}`], ...base }
  const checkpoint = { origin: opened.origin, size: opened.size, root: opened.root }
  const problems: Array<string> = []
  const root = Buffer.from(checkpoint.root, "hex")
  let previous: BundleEvent | undefined
  for (const { event, inclusion_proof } of bundle.entries) {
    const at = `event seq ${event.seq}`
    const recomputed = Chain.hashOfValues(event, event.data, event.meta, event.prev_hash)
    if (recomputed !== event.hash) problems.push(`${at}: its hash does not match its contents (expected ${recomputed}, found ${event.hash})`)
    if (previous !== undefined && event.seq === previous.seq + 1 && event.prev_hash !== previous.hash) {
      problems.push(`${at}: its prev_hash ${event.prev_hash} does not link to event ${previous.seq} (hash ${previous.hash})`)
    }
    if (event.seq > checkpoint.size) problems.push(`${at}: beyond the checkpoint's tree size ${checkpoint.size}`)
    else if (
      !MerkleTree.verifyInclusion(event.seq - 1, checkpoint.size, MerkleTree.eventLeafHash(event.hash), inclusion_proof.map((h) => Buffer.from(h, "hex")), root)
    ) problems.push(`${at}: its inclusion proof does not lead to the checkpoint's root ${checkpoint.root} (tree size ${checkpoint.size})`)
    previous = event
  }
  return { ok: problems.length === 0, problems, checkpoint, ...base }
}
