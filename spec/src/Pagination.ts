/** The Oxios list convention: `?page&limit` in, `{items, total, page, limit}` out. */
import { Schema } from "effect"
import { IntegerParam } from "./IntegerParam.js"

export const DEFAULT_LIMIT = 50
export const MAX_LIMIT = 500


/** `?page=&limit=` (both optional; page 0 reads as 1, limit is capped at 500). */
export const PageQuery = Schema.Struct({
  page: Schema.optional(IntegerParam(0, undefined, "1-based page; 0 reads as 1")),
  limit: Schema.optional(IntegerParam(0, undefined, `items per page; 0 or absent: ${DEFAULT_LIMIT}, above ${MAX_LIMIT}: ${MAX_LIMIT}`))
})
export type PageQuery = typeof PageQuery.Type

/** A normalised page request. */
export interface PageRequest {
  readonly page: number
  readonly limit: number
  readonly offset: number
}

/** Page 0 is page 1; limit 0 or missing is the default; limit above 500 is 500. */
export const pageRequest = (query: PageQuery): PageRequest => {
  const page = Math.max(1, query.page ?? 1)
  const limit = Math.min(MAX_LIMIT, query.limit === undefined || query.limit === 0 ? DEFAULT_LIMIT : query.limit)
  return { page, limit, offset: (page - 1) * limit }
}

/** The paginated response of a list of `item`. */
export const Page = <A, I, R>(item: Schema.Schema<A, I, R>) =>
  Schema.Struct({
    items: Schema.Array(item),
    total: Schema.Number,
    page: Schema.Number,
    limit: Schema.Number
  })
