/**
 * Checkpoints of the log's Merkle tree in the C2SP formats, as pure functions:
 * a `tlog-checkpoint` body (c2sp.org/tlog-checkpoint) signed as a C2SP signed note with
 * Ed25519 (c2sp.org/signed-note). docs/event-log.md specifies both as Annal writes them.
 */
import { createHash, createPublicKey, type KeyObject, sign, verify } from "node:crypto"

/** A tree head as a checkpoint states it; the root in hex (the note carries it in base64). */
export interface Checkpoint {
  readonly origin: string
  readonly size: number
  readonly root: string
}

/** A checkpoint with the signed note it came from. */
export interface SignedCheckpoint extends Checkpoint {
  readonly note: string
}

/** Signature type of Ed25519 in signed notes. */
const ED25519 = 0x01
const EM_DASH = "\u2014"

/** The checkpoint's note text: origin, size in decimal, base64 root, each ending in a newline. */
export const checkpointBody = (c: Checkpoint): string => `${c.origin}\n${c.size}\n${Buffer.from(c.root, "hex").toString("base64")}\n`

/** Reads a checkpoint body; extension lines after the root are allowed and ignored. */
export const parseCheckpointBody = (body: string): Checkpoint | string => {
  if (!body.endsWith("\n")) return "a checkpoint ends with a newline"
  const lines = body.slice(0, -1).split("\n")
  if (lines.length < 3) return "a checkpoint has an origin, a tree size and a root hash"
  const [origin, sizeText, rootText] = lines as [string, string, string]
  if (origin.length === 0) return "the checkpoint's origin is empty"
  if (!/^(0|[1-9][0-9]*)$/.test(sizeText) || !Number.isSafeInteger(Number(sizeText))) return `tree size ${JSON.stringify(sizeText)} is not a decimal number`
  const root = Buffer.from(rootText, "base64")
  if (root.length !== 32 || root.toString("base64") !== rootText) return "the root hash is not 32 bytes of standard base64"
  return { origin, size: Number(sizeText), root: root.toString("hex") }
}

/** The raw 32-byte Ed25519 public key (the last 32 bytes of its SPKI DER form). */
export const rawPublicKey = (key: KeyObject): Buffer => {
  const der = createPublicKey(key).export({ format: "der", type: "spki" })
  return der.subarray(der.length - 32)
}

const SPKI_ED25519_PREFIX = Buffer.from("302a300506032b6570032100", "hex")

/** A public KeyObject from the raw 32 bytes. */
export const publicKeyFromRaw = (raw: Uint8Array): KeyObject =>
  createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: "der", type: "spki" })

/** The note key id: the first 4 bytes of SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key). */
export const keyId = (name: string, raw: Uint8Array): Buffer =>
  createHash("sha256").update(name, "utf8").update("\n").update(Buffer.from([ED25519])).update(raw).digest().subarray(0, 4)

/** A note verifier key: `name+keyid-hex+base64(0x01 ‖ public key)`. */
export const verifierKey = (name: string, raw: Uint8Array): string =>
  `${name}+${keyId(name, raw).toString("hex")}+${Buffer.concat([Buffer.from([ED25519]), raw]).toString("base64")}`

/** A verifier key read back: its name and public key, or why it is not one. */
export const parseVerifierKey = (text: string): { readonly name: string; readonly key: KeyObject; readonly id: Buffer } | string => {
  // the name and the hex id hold no '+'; the base64 key may
  const match = /^([^+\s]+)\+([0-9a-f]{8})\+(\S+)$/.exec(text.trim())
  if (match === null) return "a verifier key is name+keyid+key"
  const [, name, idHex, keyText] = match as unknown as [string, string, string, string]
  const bytes = Buffer.from(keyText, "base64")
  if (bytes.length !== 33 || bytes[0] !== ED25519) return "the verifier key is not an Ed25519 key"
  const raw = bytes.subarray(1)
  const id = keyId(name, raw)
  if (id.toString("hex") !== idHex) return "the verifier key's id does not match its name and key"
  return { name, key: publicKeyFromRaw(raw), id }
}

/** Key names may not hold spaces or plus signs (they separate the verifier key's parts). */
export const validKeyName = (name: string): boolean => name.length > 0 && !/[\s+]/u.test(name)

/** Signs a note: the text, a blank line, and `— name base64(keyid ‖ signature)`. */
export const signNote = (text: string, name: string, privateKey: KeyObject, raw: Uint8Array): string => {
  const signature = sign(null, Buffer.from(text, "utf8"), privateKey)
  return `${text}\n${EM_DASH} ${name} ${Buffer.concat([keyId(name, raw), signature]).toString("base64")}\n`
}

/**
 * Opens a signed note with one verifier key: its text when a signature line of that key
 * verifies (lines of other keys are skipped, as the spec allows), else why not.
 */
export const openNote = (note: string, verifier: { readonly name: string; readonly key: KeyObject; readonly id: Buffer }): string | { readonly text: string } => {
  const split = note.lastIndexOf("\n\n")
  if (split < 0 || !note.endsWith("\n")) return "not a signed note (no blank line before the signatures)"
  const text = note.slice(0, split + 1)
  const lines = note.slice(split + 2, -1).split("\n")
  let seen = false
  for (const line of lines) {
    const match = /^\u2014 (\S+) (\S+)$/u.exec(line)
    if (match === null) return `malformed signature line ${JSON.stringify(line)}`
    const [, name, sigText] = match as unknown as [string, string, string]
    const bytes = Buffer.from(sigText, "base64")
    if (name !== verifier.name || bytes.length < 4 || !bytes.subarray(0, 4).equals(verifier.id)) continue
    seen = true
    if (bytes.length === 68 && verify(null, Buffer.from(text, "utf8"), verifier.key, bytes.subarray(4))) return { text }
  }
  return seen ? "the signature does not verify with the key" : `no signature by key ${verifier.name}+${verifier.id.toString("hex")}`
}

/** Opens a signed checkpoint: the checkpoint when the signature verifies and the body parses. */
export const openCheckpoint = (note: string, verifier: { readonly name: string; readonly key: KeyObject; readonly id: Buffer }): SignedCheckpoint | string => {
  const opened = openNote(note, verifier)
  if (typeof opened === "string") return opened
  const checkpoint = parseCheckpointBody(opened.text)
  if (typeof checkpoint === "string") return checkpoint
  if (checkpoint.origin !== verifier.name) return `the checkpoint's origin ${checkpoint.origin} is not the key's name ${verifier.name}`
  return { ...checkpoint, note }
}
