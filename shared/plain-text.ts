// Text shown in menus and notifications that shows what it says. Pure.

// C0/C1 controls, DEL, line/paragraph separators, bidi embeddings/overrides/isolates, zero-width
// characters and the BOM: nothing in a label needs them, and they can disguise a name.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

/** Unsafe characters replaced by spaces, whitespace collapsed. */
export function plainText(text: string): string {
  return text.replace(UNSAFE, ' ').replace(/\s+/g, ' ').trim();
}
