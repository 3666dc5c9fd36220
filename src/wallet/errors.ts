/**
 * Errors of the wallet layer (chain formats). Every refusal of a caller's input (a PSBT, an
 * address, an amount, a signature) is a WalletInputError with a message that says what is wrong.
 */

/** The caller's input is unusable or refused: malformed, of another network, or against policy. */
export class WalletInputError extends Error {
  override name = 'WalletInputError'
}
