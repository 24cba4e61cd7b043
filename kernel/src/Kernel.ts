/**
 * The kernel's composition: every bounded context's projection and service over one event
 * store. The gateway provides this once. To add a context: its projection to `projections`, its
 * service layer to the tier whose services it needs.
 */
import { EventStoreSqlite } from "@annal/store"
import { Layer } from "effect"
import { Access } from "./access/Access.js"
import { accessProjection } from "./access/projection.js"
import { Audit } from "./audit/Audit.js"
import { EventBus } from "./bus/EventBus.js"
import { configProjection } from "./config/projection.js"
import { DataDir } from "./shared/DataDir.js"
import { Configuration } from "./config/Configuration.js"
import { HostTools } from "./hosttools/HostTools.js"
import * as Projection from "./projection/Projection.js"
import { ResourceSampler } from "./resources/ResourceSampler.js"

/** Every projection of every bounded context; `annal rebuild` replays exactly these. */
export const projections: ReadonlyArray<Projection.Projection> = [
  configProjection,
  accessProjection
]

/** The event store with the kernel's projections inline. */
export const storeLayer = (config: EventStoreSqlite.EventStoreSqliteConfig) =>
  EventStoreSqlite.layer(config).pipe(Layer.provide(Projection.projector(projections)))

export interface KernelOptions {
  readonly store: EventStoreSqlite.EventStoreSqliteConfig
  /** `<data-dir>`: where contexts keep files (workspace, skills, memory index). */
  readonly dataDir: string
  readonly resourceSampleIntervalSecs?: number | undefined
  readonly resourceHistorySize?: number | undefined
}

/** The kernel's services, over the store. */
export const layer = (options: KernelOptions) => {
  const store = Layer.merge(storeLayer(options.store), DataDir.layer(options.dataDir))
  // tier 1: services that need only the store
  const tier1 = Layer.mergeAll(
    Configuration.layer,
    Access.layer,
    Audit.layer
  ).pipe(Layer.provideMerge(store))
  // tier 2: services that need tier 1 (configuration, access decisions)
  const tier2 = Layer.mergeAll(
    EventBus.layer
  ).pipe(Layer.provideMerge(tier1))
  return Layer.mergeAll(
    tier2,
    ResourceSampler.layer({
      ...(options.resourceSampleIntervalSecs === undefined ? {} : { interval: `${options.resourceSampleIntervalSecs} seconds` as const }),
      ...(options.resourceHistorySize === undefined ? {} : { historySize: options.resourceHistorySize })
    }),
    HostTools.layer()
  )
}
