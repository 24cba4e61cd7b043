#!/usr/bin/env node
// Checks an Annal proof bundle offline, written from docs/event-log.md alone: it imports
// nothing of Annal's, only Node's own modules (node:crypto has SHA-256 and Ed25519).
//
//   node docs/verify_bundle.mjs BUNDLE.json [--key VERIFIER_KEY]
//
// --key is the log's verifier key (name+keyid+base64 key, from GET /api/log/public-key or a
// witness directory's public-key file), or a file holding it. Without it the bundle's own key
// is used, which proves the bundle self-consistent but not who signed it.
// Prints "valid …" and exits 0; prints "INVALID" and one line per failed check and exits 1;
// exits 2 when the input cannot be read.
import { createHash, createPublicKey, verify } from "node:crypto"
import { existsSync, readFileSync } from "node:fs"

const sha256 = (...parts) => {
  const h = createHash("sha256")
  for (const p of parts) h.update(p)
  return h.digest()
}

// Canonical JSON (RFC 8785 as JSON.stringify prints it): keys sorted by UTF-16 code units.
const canonical = (v) => {
  if (v === null || typeof v === "boolean" || typeof v === "string") return JSON.stringify(v)
  if (typeof v === "number") {
    if (!Number.isFinite(v)) throw new Error("a number with no canonical form")
    return JSON.stringify(v)
  }
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`
  if (typeof v === "object") return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(",")}}`
  throw new Error(`not a JSON value: ${typeof v}`)
}

// The event's chain hash: "annal/v1\n" + C([9 fields]) + "\n" + prev_hash, SHA-256, hex.
const chainHash = (e) =>
  sha256(Buffer.from(`annal/v1\n${canonical([e.seq, e.id, e.stream, e.version, e.type, e.actor, e.at, e.data, e.meta])}\n${e.prev_hash}`, "utf8")).toString("hex")

const leafHash = (chainHex) => sha256(Buffer.from([0]), Buffer.from(chainHex, "hex"))
const nodeHash = (l, r) => sha256(Buffer.from([1]), l, r)

// RFC 9162 §2.1.3.2: does `proof` lead from leaf `index` of a tree of `size` leaves to `root`?
const verifyInclusion = (index, size, leaf, proof, root) => {
  if (index >= size) return false
  let fn = index
  let sn = size - 1
  let r = leaf
  for (const p of proof) {
    if (sn === 0) return false
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r)
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2)
        sn = Math.floor(sn / 2)
      }
    } else {
      r = nodeHash(r, p)
    }
    fn = Math.floor(fn / 2)
    sn = Math.floor(sn / 2)
  }
  return sn === 0 && r.equals(root)
}

// A C2SP note verifier key: name+keyid(8 hex)+base64(0x01 ‖ 32-byte Ed25519 key).
const parseKey = (text) => {
  const first = text.indexOf("+")
  const second = text.indexOf("+", first + 1)
  if (first <= 0 || second < 0) throw new Error("a verifier key is name+keyid+key")
  const name = text.slice(0, first)
  const id = text.slice(first + 1, second)
  const bytes = Buffer.from(text.slice(second + 1), "base64")
  if (!/^[0-9a-f]{8}$/.test(id)) throw new Error("the key id is not 8 hex digits")
  if (bytes.length !== 33 || bytes[0] !== 0x01) throw new Error("not an Ed25519 verifier key")
  const raw = bytes.subarray(1)
  const expectedId = sha256(Buffer.from(`${name}\n`, "utf8"), Buffer.from([0x01]), raw).subarray(0, 4)
  if (expectedId.toString("hex") !== id) throw new Error("the key id does not match the name and key")
  const key = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: raw.toString("base64url") }, format: "jwk" })
  return { name, id: expectedId, key }
}

// Opens the signed note with the key: its text when one signature line of the key verifies.
const openNote = (note, k) => {
  const split = note.lastIndexOf("\n\n")
  if (split < 0 || !note.endsWith("\n")) throw new Error("not a signed note")
  const text = note.slice(0, split + 1)
  let ours = 0
  for (const line of note.slice(split + 2, -1).split("\n")) {
    if (!line.startsWith("\u2014 ")) throw new Error(`not a signature line: ${JSON.stringify(line)}`)
    const [name, sig] = line.slice(2).split(" ")
    const bytes = Buffer.from(sig ?? "", "base64")
    if (name !== k.name || bytes.length !== 68 || !bytes.subarray(0, 4).equals(k.id)) continue
    ours++
    if (verify(null, Buffer.from(text, "utf8"), k.key, bytes.subarray(4))) return text
  }
  throw new Error(ours === 0 ? `no signature by ${k.name}+${k.id.toString("hex")}` : "the signature does not verify with the key")
}

const parseCheckpoint = (text) => {
  const [origin, size, root] = text.split("\n")
  if (!/^(0|[1-9][0-9]*)$/.test(size ?? "")) throw new Error("the tree size is not a decimal number")
  const rootBytes = Buffer.from(root ?? "", "base64")
  if (rootBytes.length !== 32) throw new Error("the root is not 32 bytes")
  return { origin, size: Number(size), root: rootBytes }
}

const check = (bundle, pinnedKey) => {
  if (bundle?.format !== "annal-log-bundle/1") return [`not an annal-log-bundle/1 bundle (format ${JSON.stringify(bundle?.format)})`]
  const keyText = pinnedKey ?? bundle.public_key?.verifier_key
  let key
  try {
    key = parseKey(String(keyText))
  } catch (e) {
    return [`the key ${keyText} is unusable: ${e.message}`]
  }
  let checkpoint
  try {
    checkpoint = parseCheckpoint(openNote(String(bundle.checkpoint), key))
  } catch (e) {
    return [`the checkpoint does not verify with key ${keyText}: ${e.message}`]
  }
  if (checkpoint.origin !== key.name) return [`the checkpoint's origin ${checkpoint.origin} is not the key's name ${key.name}`]
  const problems = []
  if (!Array.isArray(bundle.entries)) return ["the bundle has no entries"]
  let previous
  for (const entry of bundle.entries) {
    const e = entry.event
    const at = `event seq ${e?.seq}`
    if (!Number.isSafeInteger(e?.seq) || e.seq < 1) {
      problems.push(`${at}: not an event`)
      continue
    }
    let h
    try {
      h = chainHash(e)
    } catch (err) {
      problems.push(`${at}: ${err.message}`)
      continue
    }
    if (h !== e.hash) problems.push(`${at}: hash does not match its contents (computed ${h}, stated ${e.hash})`)
    if (previous !== undefined && e.seq === previous.seq + 1 && e.prev_hash !== previous.hash) {
      problems.push(`${at}: prev_hash does not link to event ${previous.seq}`)
    }
    const proof = (entry.inclusion_proof ?? []).map((x) => Buffer.from(x, "hex"))
    if (!verifyInclusion(e.seq - 1, checkpoint.size, leafHash(e.hash), proof, checkpoint.root)) {
      problems.push(`${at}: inclusion proof does not lead to the checkpoint's root (tree size ${checkpoint.size})`)
    }
    previous = e
  }
  return { problems, checkpoint, count: bundle.entries.length, keyText }
}

const args = process.argv.slice(2)
const keyAt = args.indexOf("--key")
let pinned
if (keyAt >= 0) {
  pinned = args[keyAt + 1]
  args.splice(keyAt, 2)
  if (pinned !== undefined && existsSync(pinned)) pinned = readFileSync(pinned, "utf8").trim()
}
let bundle
try {
  bundle = JSON.parse(readFileSync(args[0] === "-" ? 0 : args[0], "utf8"))
} catch (e) {
  process.stderr.write(`cannot read the bundle: ${e.message}\nusage: node verify_bundle.mjs BUNDLE.json [--key VERIFIER_KEY]\n`)
  process.exit(2)
}
const result = check(bundle, pinned)
const problems = Array.isArray(result) ? result : result.problems
if (problems.length > 0) {
  process.stdout.write(`INVALID\n${problems.map((p) => `${p}\n`).join("")}`)
  process.exit(1)
}
process.stdout.write(`valid ${result.count} events, checkpoint ${result.checkpoint.origin} size ${result.checkpoint.size} root ${result.checkpoint.root.toString("hex")}, key ${result.keyText}${pinned === undefined ? " (the bundle's own)" : ""}\n`)
