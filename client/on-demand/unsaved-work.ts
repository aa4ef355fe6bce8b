/**
 * What counts as unsaved work, so an automatic reload never throws it away:
 * - a form field edited (an `input` or `change` event) since tracking began, until its form is
 *   submitted or reset, or until the field (or its form) leaves the document;
 * - a focused editable element (a text-like input, a textarea, a select, contenteditable), also
 *   inside open shadow roots;
 * - an element the app marks as busy: `data-deploy-notify-busy` (any value but `false`) or
 *   `aria-busy="true"`, anywhere in the document (a save in flight, a wizard midway).
 * Tracking starts when the apply part loads: at page load with `apply: 'auto'`, else when the
 * update arrives; then fields whose value already differs from what the page loaded with count too.
 */

/** Input types that are not typed into: focusing one is not editing. */
const NOT_TYPED = /^(button|submit|reset|image|checkbox|radio|range|color|file|hidden)$/

const BUSY = '[data-deploy-notify-busy]:not([data-deploy-notify-busy="false"]),[aria-busy="true"]'

type Field = HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement

const isField = (node: unknown): node is Field =>
  node instanceof HTMLInputElement || node instanceof HTMLTextAreaElement || node instanceof HTMLSelectElement

/** The form a field belongs to, or the field itself when it has none. */
const owner = (field: Field): Element => field.form ?? field

const isEditable = (element: Element | null): boolean =>
  isField(element)
    ? !element.disabled && !(element instanceof HTMLInputElement && NOT_TYPED.test(element.type))
    : element instanceof HTMLElement && element.isContentEditable

/** The element that has focus, looking into open shadow roots (web components). */
function focused(): Element | null {
  let element = document.activeElement
  while (element?.shadowRoot?.activeElement) element = element.shadowRoot.activeElement
  return element
}

/** A field whose value differs from the one in the page's markup. */
const changedFromMarkup = (field: Field): boolean =>
  field instanceof HTMLSelectElement
    ? [...field.options].some((option) => option.selected !== option.defaultSelected)
    : field instanceof HTMLInputElement && /^(checkbox|radio)$/.test(field.type)
      ? field.checked !== field.defaultChecked
      : !(field instanceof HTMLInputElement && NOT_TYPED.test(field.type)) && field.value !== field.defaultValue

/**
 * Starts tracking and returns the question "is there unsaved work now?". `late` means the page
 * may have been edited before tracking began.
 */
export function trackUnsavedWork(late: boolean): () => boolean {
  const edited = new Set<Element>()
  /** Forms submitted or reset since tracking began: their markup comparison no longer says anything. */
  const settled = new WeakSet<Element>()
  const settle = (event: Event) => {
    const form = event.target as Element
    settled.add(form)
    edited.delete(form)
  }
  const edit = (event: Event) => {
    const field = event.composedPath()[0]
    if (isField(field)) edited.add(owner(field))
    else if (field instanceof HTMLElement && field.isContentEditable) edited.add(field)
  }
  addEventListener('input', edit, true)
  addEventListener('change', edit, true)
  addEventListener('submit', settle, true)
  addEventListener('reset', settle, true)

  return () => {
    for (const element of edited) if (!element.isConnected) edited.delete(element)
    if (edited.size > 0 || isEditable(focused()) || document.querySelector(BUSY)) return true
    if (!late) return false
    for (const field of document.querySelectorAll<Field>('input,textarea,select'))
      if (!settled.has(owner(field)) && changedFromMarkup(field)) return true
    return false
  }
}
