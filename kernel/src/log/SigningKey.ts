/**
 * The log's Ed25519 signing key: a PKCS#8 PEM file, made on first start in the data directory
 * (mode 0600) or given by the operator. Its public half names the log.
 */
import { createHash, createPrivateKey, generateKeyPairSync, type KeyObject } from "node:crypto"
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { rawPublicKey, validKeyName, verifierKey } from "./Checkpoint.js"

export interface SigningKey {
  readonly privateKey: KeyObject
  /** The raw 32-byte public key. */
  readonly publicKey: Buffer
  /** The note key name, which is also every checkpoint's origin. */
  readonly name: string
  /** `name+keyid+base64(0x01 ‖ public key)`. */
  readonly verifierKey: string
  readonly path: string
}

/** The default origin: `annal/` and the first 8 bytes of SHA-256 of the public key, in hex. */
export const defaultOrigin = (raw: Uint8Array): string => `annal/${createHash("sha256").update(raw).digest("hex").slice(0, 16)}`

/** Reads the key at `path`, or (when `create`) makes one there, readable by the owner only. */
export const loadSigningKey = (path: string, options: { readonly create: boolean; readonly origin?: string | undefined }): SigningKey => {
  if (!existsSync(path)) {
    if (!options.create) throw new Error(`no signing key at ${path}`)
    const { privateKey } = generateKeyPairSync("ed25519")
    writeFileSync(path, privateKey.export({ format: "pem", type: "pkcs8" }), { mode: 0o600, flag: "wx" })
  }
  const privateKey = createPrivateKey(readFileSync(path))
  if (privateKey.asymmetricKeyType !== "ed25519") throw new Error(`the signing key at ${path} is not an Ed25519 key`)
  const publicKey = rawPublicKey(privateKey)
  const name = options.origin ?? defaultOrigin(publicKey)
  if (!validKeyName(name)) throw new Error(`the log's origin ${JSON.stringify(name)} may not contain spaces or '+'`)
  return { privateKey, publicKey, name, verifierKey: verifierKey(name, publicKey), path }
}
