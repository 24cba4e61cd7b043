/**
 * The built-in embedder: hashed lexical features, no model, no network. Each text becomes word
 * unigrams, bigrams of neighbouring content words and character 3-5-grams of each word (so
 * "deploying" and "deployment" share features), weighted with sublinear term frequency,
 * folded into a fixed dimension with signed feature hashing and L2-normalised. Deterministic:
 * the same text gives the same vector on every machine.
 */
import { Effect } from "effect"
import type { Embedder } from "./Embedder.js"

/** Bumped whenever the features or weights change: indexes built by another version are rebuilt. */
export const LEXICAL_VERSION = 1

const WORD_WEIGHT = 1
const BIGRAM_WEIGHT = 0.8
const GRAM_WEIGHT = 0.25
const MIN_GRAM = 3
const MAX_GRAM = 5

/** Frequent function words: they carry little meaning, so they get no features of their own. */
export const STOPWORDS: ReadonlySet<string> = new Set(
  ("a an and are as at be been but by can could did do does for from had has have how i if in into is it its " +
    "me my no not of on or our so such than that the their them then there these they this to was we were " +
    "what when where which who why will with would you your").split(" ")
)

/** FNV-1a over UTF-16 code units. */
const fnv1a = (text: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/** murmur3's finaliser: spreads every input bit over the output. */
const mix = (h: number): number => {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/** The words of a text: lower-cased, accents removed, letters and digits only. */
export const words = (text: string): Array<string> =>
  text.normalize("NFKD").replace(/\p{M}+/gu, "").toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []

/** The features of a text, before hashing, with how often each occurs. */
export const features = (text: string): Map<string, number> => {
  const counts = new Map<string, number>()
  const add = (feature: string) => counts.set(feature, (counts.get(feature) ?? 0) + 1)
  let previous: string | undefined
  for (const word of words(text)) {
    if (STOPWORDS.has(word)) continue
    add(`w:${word}`)
    if (previous !== undefined) add(`b:${previous} ${word}`)
    previous = word
    const padded = `<${word}>`
    for (let n = MIN_GRAM; n <= MAX_GRAM; n++) {
      for (let i = 0; i + n <= padded.length; i++) add(`c:${padded.slice(i, i + n)}`)
    }
  }
  return counts
}

const baseWeight = (feature: string) => (feature.startsWith("w:") ? WORD_WEIGHT : feature.startsWith("b:") ? BIGRAM_WEIGHT : GRAM_WEIGHT)

/** The lexical embedding of one text: a unit vector (all zeros when the text has no words). */
export const lexicalEmbedding = (text: string, dimension: number): Float32Array => {
  const vector = new Float32Array(dimension)
  for (const [feature, count] of features(text)) {
    const h = fnv1a(feature)
    const slot = mix(h) % dimension
    // the sign keeps collisions from adding up: colliding features cancel as often as they add
    const sign = (mix(h ^ 0x9e3779b9) & 1) === 0 ? 1 : -1
    // sublinear tf: a word said ten times is not ten times the topic
    vector[slot]! += sign * baseWeight(feature) * (1 + Math.log(count))
  }
  let norm = 0
  for (let i = 0; i < dimension; i++) norm += vector[i]! * vector[i]!
  if (norm > 0) {
    const scale = 1 / Math.sqrt(norm)
    for (let i = 0; i < dimension; i++) vector[i]! *= scale
  }
  return vector
}

/** The lexical embedder of a given dimension. */
export const makeLexicalEmbedder = (dimension: number): Embedder => ({
  provider: "lexical",
  fingerprint: `lexical/v${LEXICAL_VERSION}/d${dimension}`,
  dimension,
  embed: (texts) => Effect.sync(() => texts.map((t) => lexicalEmbedding(t, dimension))),
  close: Effect.void
})
