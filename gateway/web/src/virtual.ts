/** Windowing for long lists: which rows of fixed height a viewport shows (plus some overscan). */
export const visibleRange = (scrollTop: number, viewportHeight: number, rowHeight: number, count: number, overscan = 10) => {
  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan)
  const last = Math.min(count, Math.ceil((scrollTop + viewportHeight) / rowHeight) + overscan)
  return { first, last }
}
