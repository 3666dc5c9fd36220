/**
 * Text that other peers wrote (error details in events, addresses, versions, ids) ends up on the
 * operator's terminal. A hostile member can put control sequences in it: clear the screen, move
 * the cursor up and overwrite an earlier line, hide text, set the window title, or make one event
 * look like several. Everything shown to a person goes through printable() first.
 */

/**
 * What a terminal acts on instead of showing. C0 controls (ESC, newline, carriage return, tab,
 * bell…), DEL and C1 controls (CSI U+009B starts an escape sequence on its own) are `\p{Cc}`;
 * line and paragraph separators break a line; bidirectional controls reorder what is shown
 * ("Trojan Source"); a lone surrogate is no character at all. Printable Unicode, emoji included,
 * passes unchanged.
 */
const UNPRINTABLE = /[\p{Cc}\p{Zl}\p{Zp}\p{Bidi_Control}\p{Cs}]/gu
/** Code points up to here are written as `\xNN`, above as `\u{NNNN}`. */
const LAST_BYTE = 0xff
const HEX = 16

function escape (char: string): string {
  const code = char.codePointAt(0) ?? 0
  return code <= LAST_BYTE ? `\\x${code.toString(HEX).padStart(2, '0')}` : `\\u{${code.toString(HEX)}}`
}

/**
 * The text with every control character shown as a visible escape (`\x1b`, `\x0a`, `\u{202e}`),
 * so that it prints as what it is, on one line. Backslashes are left as they are: the aim is a
 * terminal that does nothing but show, not a reversible encoding (`--json` output is that).
 */
export function printable (text: string): string {
  return text.replace(UNPRINTABLE, escape)
}
