/** Small pieces the pages share. */
import type { ComponentChildren } from "preact"

/**
 * A table that scrolls sideways inside itself on a narrow screen (never the page). It can take
 * the focus, so a keyboard reaches what is scrolled out of view; its label names it.
 */
export const TableWrap = ({ label, children }: { readonly label: string; readonly children: ComponentChildren }) => (
  <div class="table-wrap" tabIndex={0} role="region" aria-label={label}>{children}</div>
)
