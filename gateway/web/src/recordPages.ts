/**
 * How the record page reads a long log: in fixed pages of seqs (page k holds seqs
 * k·size+1 … (k+1)·size), fetched only when rows of them come into view, so a log of 100,000
 * events costs the pages someone looks at, not the whole log.
 */

/** The page that holds `seq`. */
export const pageOf = (seq: number, size: number) => Math.floor((seq - 1) / size)

/** The seqs page `page` holds, for `GET /api/audit/entries?from_seq&to_seq`. */
export const seqsOf = (page: number, size: number) => ({ from_seq: page * size + 1, to_seq: (page + 1) * size })

/**
 * The pages the list's positions `first` (inclusive) to `last` (exclusive) show, newest first:
 * position 0 is the head's seq, position i is seq head − i.
 */
export const pagesInView = (head: number, first: number, last: number, size: number): ReadonlyArray<number> => {
  if (head < 1 || last <= first) return []
  const newest = Math.min(head, head - first)
  const oldest = Math.max(1, head - (last - 1))
  if (newest < oldest) return []
  const pages: Array<number> = []
  for (let p = pageOf(newest, size); p >= pageOf(oldest, size); p--) pages.push(p)
  return pages
}

/** The record's filters: substrings of type, stream and actor, and a time from which on. */
export interface RecordFilters {
  readonly type: string
  readonly stream: string
  readonly actor: string
  readonly since: string
}

export const noFilters: RecordFilters = { type: "", stream: "", actor: "", since: "" }

/** Whether any filter is set (then the list is the loaded events that match, not the whole log). */
export const isFiltered = (f: RecordFilters) => f.type !== "" || f.stream !== "" || f.actor !== "" || f.since !== ""

/** Whether an event passes the filters (substring match, time from `since`). */
export const matches = (row: { readonly type: string; readonly stream: string; readonly actor: string; readonly at: string }, f: RecordFilters) =>
  row.type.includes(f.type) && row.stream.includes(f.stream) && row.actor.includes(f.actor) && (f.since === "" || row.at >= f.since)
