/**
 * Deterministic, varied, realistic-looking memories for the memory benchmark: facts, episodes
 * and knowledge notes about projects, people, systems and habits, drawn from a seeded PRNG.
 */

/** mulberry32: a small seeded PRNG. */
export const prng = (seed: number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const TOPICS: ReadonlyArray<{ readonly nouns: ReadonlyArray<string>; readonly verbs: ReadonlyArray<string>; readonly adjectives: ReadonlyArray<string> }> = [
  { nouns: ["deployment", "pipeline", "container", "image", "registry", "cluster", "rollout", "canary", "helm chart", "manifest"], verbs: ["deploys", "builds", "pushes", "rolls back", "promotes", "pins"], adjectives: ["blue-green", "staged", "nightly", "failed", "green"] },
  { nouns: ["database", "migration", "index", "query", "replica", "transaction", "schema", "vacuum", "backup", "snapshot"], verbs: ["migrates", "indexes", "replicates", "restores", "locks", "compacts"], adjectives: ["slow", "sharded", "read-only", "primary", "stale"] },
  { nouns: ["invoice", "budget", "forecast", "expense", "payroll", "quarter", "revenue", "contract", "vendor", "refund"], verbs: ["approves", "reconciles", "pays", "audits", "renews", "disputes"], adjectives: ["overdue", "quarterly", "annual", "signed", "pending"] },
  { nouns: ["recipe", "oven", "dough", "sourdough", "starter", "flour", "butter", "sugar", "bread", "cake"], verbs: ["bakes", "kneads", "proofs", "mixes", "tastes", "burns"], adjectives: ["crusty", "sweet", "wholegrain", "fluffy", "dense"] },
  { nouns: ["garden", "tomato", "compost", "seedling", "greenhouse", "hose", "soil", "weed", "harvest", "orchard"], verbs: ["plants", "waters", "prunes", "harvests", "mulches", "repots"], adjectives: ["organic", "raised", "shady", "dry", "ripe"] },
  { nouns: ["flight", "hotel", "passport", "itinerary", "train", "luggage", "visa", "airport", "layover", "booking"], verbs: ["books", "cancels", "reschedules", "packs", "boards", "misses"], adjectives: ["delayed", "overnight", "direct", "refundable", "early"] },
  { nouns: ["test", "assertion", "fixture", "mock", "coverage", "regression", "benchmark", "flake", "suite", "snapshot test"], verbs: ["fails", "passes", "retries", "skips", "measures", "covers"], adjectives: ["flaky", "slow", "deterministic", "integration", "unit"] },
  { nouns: ["meeting", "agenda", "standup", "retrospective", "roadmap", "deadline", "milestone", "sprint", "demo", "review"], verbs: ["schedules", "moves", "leads", "summarises", "postpones", "presents"], adjectives: ["weekly", "quarterly", "remote", "urgent", "long"] },
  { nouns: ["password", "token", "certificate", "firewall", "vulnerability", "patch", "audit log", "key rotation", "phishing email", "permission"], verbs: ["rotates", "revokes", "patches", "blocks", "reports", "encrypts"], adjectives: ["expired", "leaked", "critical", "signed", "suspicious"] },
  { nouns: ["run", "marathon", "training plan", "heart rate", "interval", "shoe", "race", "stretch", "injury", "recovery"], verbs: ["runs", "trains", "stretches", "rests", "tracks", "finishes"], adjectives: ["easy", "tempo", "long", "sore", "personal-best"] },
  { nouns: ["cache", "latency", "request", "endpoint", "load balancer", "timeout", "retry", "rate limit", "queue", "worker"], verbs: ["caches", "throttles", "retries", "drops", "queues", "scales"], adjectives: ["p99", "cold", "saturated", "idle", "bursty"] },
  { nouns: ["novel", "chapter", "author", "library", "poem", "essay", "bookmark", "review", "translation", "edition"], verbs: ["reads", "writes", "translates", "reviews", "borrows", "recommends"], adjectives: ["classic", "unfinished", "annotated", "second", "rare"] }
]
const PEOPLE = ["Alice", "Bob", "Carol", "Dmitri", "Eun-ji", "Farah", "Gustavo", "Hiro", "Ines", "Jamal", "Kofi", "Lena", "Mateo", "Nora", "Omar", "Priya"]
const PROJECTS = ["Atlas", "Borealis", "Cobalt", "Delta", "Ember", "Fjord", "Granite", "Helix", "Iris", "Juniper", "Kestrel", "Lumen"]
const TIMES = ["on Monday", "last week", "every night", "before the release", "after lunch", "in March", "at the offsite", "during the outage", "this morning", "next quarter"]
const TYPES = ["fact", "episode", "knowledge"] as const

export interface GeneratedMemory {
  readonly content: string
  readonly memory_type: (typeof TYPES)[number]
  readonly tags: ReadonlyArray<string>
  readonly importance: number
}

const pick = <A>(random: () => number, list: ReadonlyArray<A>): A => list[Math.floor(random() * list.length)]!

const sentence = (random: () => number, topic: (typeof TOPICS)[number]): string => {
  const who = pick(random, PEOPLE)
  const project = pick(random, PROJECTS)
  const n1 = pick(random, topic.nouns)
  const n2 = pick(random, topic.nouns)
  const verb = pick(random, topic.verbs)
  const adj = pick(random, topic.adjectives)
  const when = pick(random, TIMES)
  const number = Math.floor(random() * 500)
  switch (Math.floor(random() * 5)) {
    case 0:
      return `${who} ${verb} the ${adj} ${n1} for ${project} ${when}.`
    case 1:
      return `The ${n1} of ${project} ${verb.replace(/s$/, "ed")} ${when} because the ${n2} was ${adj}.`
    case 2:
      return `Remember that ${project} keeps its ${n1} ${adj}; ${who} said the ${n2} needs ${number} more checks.`
    case 3:
      return `${when[0]!.toUpperCase()}${when.slice(1)}, ${who} noticed a ${adj} ${n1} next to the ${n2} in ${project}.`
    default:
      return `Note: ${number} ${n1}s ${verb} the ${n2} when it is ${adj}.`
  }
}

/** The `i`-th memory of the collection seeded with `seed`. */
export const memoryText = (seed: number, i: number): GeneratedMemory => {
  const random = prng(seed * 1_000_003 + i)
  const topic = pick(random, TOPICS)
  const sentences = 1 + Math.floor(random() * 3)
  const parts: Array<string> = []
  for (let s = 0; s < sentences; s++) parts.push(sentence(random, random() < 0.8 ? topic : pick(random, TOPICS)))
  return {
    content: parts.join(" "),
    memory_type: pick(random, TYPES),
    tags: [pick(random, topic.nouns).replace(/ /g, "-"), pick(random, PROJECTS).toLowerCase()],
    importance: Math.round(random() * 100) / 100
  }
}

/** A question-like query about some topic, in other words than any one memory. */
export const queryText = (seed: number, i: number): string => {
  const random = prng(seed * 7_919 + i)
  const topic = pick(random, TOPICS)
  const project = pick(random, PROJECTS)
  const forms = [
    `what happened with the ${pick(random, topic.nouns)} and the ${pick(random, topic.nouns)} in ${project}?`,
    `who ${pick(random, topic.verbs)} ${pick(random, topic.adjectives)} ${pick(random, topic.nouns)}s?`,
    `${project} ${pick(random, topic.nouns)} ${pick(random, topic.adjectives)} ${pick(random, TIMES)}`,
    `how does ${pick(random, PEOPLE)} handle a ${pick(random, topic.adjectives)} ${pick(random, topic.nouns)}`
  ]
  return pick(random, forms)
}
