/**
 * `?at_seq=N` on every read of a view: the answer as the view stood right after event N, in the
 * same shape (400 when N is beyond the log's head). Absent: the live view.
 */
import { Schema } from "effect"
import { IntegerParam } from "./IntegerParam.js"
import { PageQuery } from "./Pagination.js"

export const atSeqField = {
  at_seq: Schema.optional(
    IntegerParam(0, undefined, "Answer as the view stood right after event N of the log (0: before the first event); at most the log's head.")
  )
}

/** The query of a view read without other parameters. */
export const AtSeqQuery = Schema.Struct(atSeqField)
export type AtSeqQuery = typeof AtSeqQuery.Type

/** A paged view read's query: `page`, `limit` and `at_seq`. */
export const PageAtSeqQuery = Schema.Struct({ ...PageQuery.fields, ...atSeqField })
