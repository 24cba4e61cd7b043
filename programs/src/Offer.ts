/** Which loaded programs are offered to agents: pure, so tests call it directly. */

export interface OfferCandidate {
  readonly name: string
  /** `requires_tools`: agent tools (built-in or another program's) it needs. */
  readonly requires: ReadonlyArray<string>
  /** The tool names it contributes. */
  readonly provides: ReadonlyArray<string>
  /** Required host binaries that are missing. */
  readonly missingHost: ReadonlyArray<string>
}

export interface OfferDecision {
  readonly offered: boolean
  /** Required tools that are missing (empty when offered for that reason). */
  readonly missingTools: ReadonlyArray<string>
  readonly reason: string | null
}

/**
 * A program is offered when its required host binaries are present and every tool it requires
 * is available: built in, or contributed by a program that is itself offered. Decided as a
 * fixpoint, so a program that needs a program that is not offered is not offered either.
 */
export const decideOffers = (candidates: ReadonlyArray<OfferCandidate>, builtins: ReadonlySet<string>): ReadonlyMap<string, OfferDecision> => {
  const offered = new Set(candidates.filter((c) => c.missingHost.length === 0).map((c) => c.name))
  for (let changed = true; changed;) {
    changed = false
    const available = new Set(builtins)
    for (const c of candidates) if (offered.has(c.name)) for (const t of c.provides) available.add(t)
    for (const c of candidates) {
      if (offered.has(c.name) && c.requires.some((t) => !available.has(t))) {
        offered.delete(c.name)
        changed = true
      }
    }
  }
  const available = new Set(builtins)
  for (const c of candidates) if (offered.has(c.name)) for (const t of c.provides) available.add(t)
  return new Map(candidates.map((c) => {
    const missingTools = c.requires.filter((t) => !available.has(t))
    const reason = c.missingHost.length > 0
      ? `required host tools are missing: ${c.missingHost.join(", ")}`
      : missingTools.length > 0
      ? `required tools are missing: ${missingTools.join(", ")}`
      : null
    return [c.name, { offered: offered.has(c.name), missingTools, reason }] as const
  }))
}
